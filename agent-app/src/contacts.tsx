// Contacts and leads (GET /api/contacts, /api/contacts/:id): every known
// visitor (pre-chat or offline form, a verified sign-in, an emailed
// reply) as one contact, searchable by name and email, filtered by lead
// status and owner, a page at a time; a contact's page lists its visitors
// and their conversations, and sets its status, owner and notes; an
// admin deletes it there (DELETE /api/contacts/:id), the conversations
// staying. LeadStatus is the select the visitor panel uses too.

import { useEffect, useRef, useState } from "preact/hooks";
import { shortTime } from "@parley/shared/format";
import { api, errorMessage } from "@parley/shared/http";
import type { ConversationInfo } from "../../pkg/protocol/protocol";
import { Dialog } from "./dialog";
import { t } from "./i18n";
import { PrivacyButton } from "./privacy";

export interface Contact {
  id: string;
  name: string;
  email: string;
  phone: string;
  user_id: string;
  status: string;
  owner_id: string;
  notes: string;
  created_at: string;
  updated_at: string;
}

interface ContactVisitor {
  id: string;
  name: string;
  email?: string;
  verified: boolean;
  last_seen_at: string;
}

interface Agent {
  id: string;
  name: string;
}

export const leadStatuses: Record<string, string> = { new: "New", contacted: "Contacted", won: "Won", lost: "Lost" };

const pageSize = 25;

function useAgents(): Agent[] {
  const [agents, setAgents] = useState<Agent[]>([]);
  useEffect(() => {
    void api<{ agents: Agent[] }>("GET", "/api/agents").then((r) => setAgents(r.agents ?? []), () => {});
  }, []);
  return agents;
}

export function ContactsButton(props: { onOpen: () => void }) {
  return (
    <button type="button" class="pa-btn-ghost" data-testid="open-contacts" onClick={props.onOpen}>
      {t("side.contacts")}
    </button>
  );
}

/** LeadStatus shows and changes a contact's lead status; onSaved gets the
 * contact as stored. */
export function LeadStatus(props: { contact: Contact; onSaved: (c: Contact) => void; onError: (msg: string) => void }) {
  return (
    <select
      class={"pa-lead pa-lead-" + props.contact.status}
      aria-label="Lead status"
      data-testid="lead-status"
      value={props.contact.status}
      onChange={(e) => {
        const status = e.currentTarget.value;
        api<{ contact: Contact }>("PATCH", `/api/contacts/${encodeURIComponent(props.contact.id)}`, { status })
          .then((r) => props.onSaved(r.contact))
          .catch((err) => props.onError(errorMessage(err)));
      }}
    >
      {Object.entries(leadStatuses).map(([v, label]) => (
        <option key={v} value={v}>
          {label}
        </option>
      ))}
    </select>
  );
}

/** DeleteContact asks before deleting: it says what stays (the visitors,
 * conversations and messages) and opens Data & privacy, where a person's
 * data is erased by deleting their visitors. */
function DeleteContact(props: { contact: Contact; onDeleted: () => void }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState("");
  const name = props.contact.name || props.contact.email || t("ctc.unnamed");
  const remove = () => {
    setError("");
    api("DELETE", `/api/contacts/${encodeURIComponent(props.contact.id)}`)
      .then(props.onDeleted)
      .catch((e) => setError(errorMessage(e)));
  };
  return (
    <section class="pa-contact-delete">
      <button type="button" class="pa-btn-outline pa-btn-sm pa-btn-danger" data-testid="contact-delete" onClick={() => setAsking(true)}>
        {t("ctc.delete")}
      </button>
      {asking && (
        <Dialog title={t("ctc.deleteQ", { name })} onClose={() => setAsking(false)}>
          <div data-testid="contact-delete-dialog">
            <p>{t("ctc.deleteKeeps")}</p>
            <p class="pa-muted">{t("ctc.deleteErase")}</p>
            <p class="pa-contact-privacy">
              <PrivacyButton />
            </p>
            {error && (
              <p class="pa-error" role="alert">
                {error}
              </p>
            )}
            <div class="pa-form-actions">
              <button type="button" class="pa-btn pa-btn-danger-solid" data-testid="contact-delete-confirm" onClick={remove}>
                {t("ctc.delete")}
              </button>
              <button type="button" class="pa-btn-outline" onClick={() => setAsking(false)}>
                {t("common.cancel")}
              </button>
            </div>
          </div>
        </Dialog>
      )}
    </section>
  );
}

function ContactPage(props: {
  id: string;
  agents: Agent[];
  admin: boolean;
  onBack: () => void;
  onOpen: (c: ConversationInfo) => void;
  onChanged: (c: Contact) => void;
  onDeleted: () => void;
}) {
  const [data, setData] = useState<{ contact: Contact; visitors: ContactVisitor[]; conversations: ConversationInfo[] } | null>(null);
  const [notes, setNotes] = useState("");
  const [error, setError] = useState("");
  const [saved, setSaved] = useState("");
  const path = `/api/contacts/${encodeURIComponent(props.id)}`;
  const show = (r: { contact: Contact; visitors: ContactVisitor[]; conversations: ConversationInfo[] }) => {
    setData(r);
    setNotes(r.contact.notes);
    props.onChanged(r.contact);
  };
  useEffect(() => {
    api<{ contact: Contact; visitors: ContactVisitor[]; conversations: ConversationInfo[] }>("GET", path)
      .then(show)
      .catch((e) => setError(errorMessage(e)));
  }, [props.id]);
  const save = (body: Record<string, string>, what: string) => {
    setError("");
    api<{ contact: Contact; visitors: ContactVisitor[]; conversations: ConversationInfo[] }>("PATCH", path, body)
      .then((r) => {
        show(r);
        setSaved(what + " saved.");
      })
      .catch((e) => setError(errorMessage(e)));
  };
  if (!data) return <p class="pa-muted">{error || "Loading…"}</p>;
  const c = data.contact;
  return (
    <div class="pa-contact" data-testid="contact-page">
      <button type="button" class="pa-link" data-testid="contact-back" onClick={props.onBack}>
        ← All contacts
      </button>
      <h2 class="pa-contact-name" data-testid="contact-name">
        {c.name || c.email || "Unnamed contact"}
      </h2>
      <dl class="pa-contact-facts">
        {c.email && (
          <>
            <dt>Email</dt>
            <dd data-testid="contact-email">{c.email}</dd>
          </>
        )}
        {c.phone && (
          <>
            <dt>Phone</dt>
            <dd>{c.phone}</dd>
          </>
        )}
        {c.user_id && (
          <>
            <dt>User id</dt>
            <dd>
              {c.user_id} <span class="pa-verified">Verified</span>
            </dd>
          </>
        )}
        <dt>Contact since</dt>
        <dd>{new Date(c.created_at).toLocaleDateString()}</dd>
        <dt>Lead status</dt>
        <dd>
          <LeadStatus
            contact={c}
            onSaved={(x) => {
              setData({ ...data, contact: x });
              props.onChanged(x);
              setError("");
              setSaved("Status saved.");
            }}
            onError={setError}
          />
        </dd>
        <dt>Owner</dt>
        <dd>
          <select aria-label="Owner" data-testid="contact-owner" value={c.owner_id} onChange={(e) => save({ owner_id: e.currentTarget.value }, "Owner")}>
            <option value="">Nobody</option>
            {props.agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </dd>
      </dl>
      {error && (
        <p class="pa-error" role="alert">
          {error}
        </p>
      )}
      {saved && !error && (
        <p class="pa-sup-notice" role="status" data-testid="contact-saved">
          {saved}
        </p>
      )}
      <section>
        <h3>Notes</h3>
        <textarea class="pa-contact-notes" rows={3} maxLength={5000} value={notes} data-testid="contact-notes" onInput={(e) => setNotes(e.currentTarget.value)} />
        <button type="button" class="pa-btn pa-btn-sm" disabled={notes === c.notes} onClick={() => save({ notes }, "Notes")}>
          Save notes
        </button>
      </section>
      <section>
        <h3>
          Conversations <span class="pa-count">{data.conversations.length}</span>
        </h3>
        {data.conversations.length === 0 ? (
          <p class="pa-empty-line">No conversations yet.</p>
        ) : (
          <table class="pa-sup-table" data-testid="contact-conversations">
            <thead>
              <tr>
                <th>Started</th>
                <th>Status</th>
                <th>Agent</th>
                <th>Last message</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.conversations.map((conv) => (
                <tr key={conv.id}>
                  <td>{shortTime(conv.created_at)}</td>
                  <td>{conv.status === "closed" ? "resolved" : conv.status}</td>
                  <td>{conv.agent_name || "—"}</td>
                  <td class="pa-sup-last">{conv.last_body ?? ""}</td>
                  <td>
                    <button type="button" class="pa-link" data-testid="contact-open-conversation" onClick={() => props.onOpen(conv)}>
                      Open
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h3>
          Visitors <span class="pa-count">{data.visitors.length}</span>
        </h3>
        <p class="pa-muted">Each browser or sign-in this person came from; they are one contact by their email or verified user id.</p>
        <ul class="pa-contact-visitors" data-testid="contact-visitors">
          {data.visitors.map((v) => (
            <li key={v.id}>
              {v.name}
              {v.verified && <span class="pa-verified">Verified</span>}
              {v.email && <span class="pa-muted"> · {v.email}</span>}
              <span class="pa-muted"> · last seen {shortTime(v.last_seen_at)}</span>
            </li>
          ))}
        </ul>
      </section>
      {props.admin && <DeleteContact contact={c} onDeleted={props.onDeleted} />}
    </div>
  );
}

/** ContactsPage is the Contacts screen: the list, or one contact. */
export function ContactsPage(props: { role: string; onClose: () => void; onOpen: (c: ConversationInfo) => void }) {
  const agents = useAgents();
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState("");
  const [owner, setOwner] = useState("");
  const [list, setList] = useState<Contact[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const [deleted, setDeleted] = useState(false);
  // Only the latest request's answer is shown: one for an older filter
  // can arrive after it.
  const latest = useRef(0);
  const load = (cursor: string) => {
    const asked = ++latest.current;
    const p = new URLSearchParams({ limit: String(pageSize) });
    if (query) p.set("q", query);
    if (status) p.set("status", status);
    if (owner) p.set("owner_id", owner);
    if (cursor) p.set("cursor", cursor);
    api<{ data: Contact[]; next_cursor: string }>("GET", "/api/contacts?" + p.toString())
      .then((r) => {
        if (asked !== latest.current) return;
        setList((prev) => (cursor && prev ? [...prev, ...r.data] : r.data));
        setNext(r.next_cursor);
        setError("");
      })
      .catch((e) => setError(errorMessage(e)));
  };
  useEffect(() => load(""), [query, status, owner]);
  const names = new Map(agents.map((a) => [a.id, a.name]));
  return (
    <main class="pa-sup pa-contacts" aria-label="Contacts">
      <header class="pa-sup-head">
        <h1>Contacts</h1>
        <span class="pa-muted">Visitors who left an email or phone, or signed in</span>
        <button type="button" class="pa-link" data-testid="close-contacts" onClick={props.onClose}>
          Back to inbox
        </button>
      </header>
      {open ? (
        <ContactPage
          id={open}
          agents={agents}
          admin={props.role === "admin"}
          onBack={() => {
            setOpen(null);
            setDeleted(false);
            load("");
          }}
          onDeleted={() => {
            setOpen(null);
            setDeleted(true);
            load("");
          }}
          onOpen={props.onOpen}
          onChanged={(c) => setList((prev) => prev?.map((x) => (x.id === c.id ? c : x)) ?? prev)}
        />
      ) : (
        <>
          <form
            class="pa-contacts-filters"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              setQuery(q.trim());
            }}
          >
            <input
              type="search"
              placeholder="Search by name or email"
              aria-label="Search contacts"
              data-testid="contacts-search"
              value={q}
              onInput={(e) => setQ(e.currentTarget.value)}
            />
            <button type="submit" class="pa-btn pa-btn-sm">
              Search
            </button>
            <select aria-label="Lead status" data-testid="contacts-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">Any status</option>
              {Object.entries(leadStatuses).map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
            <select aria-label="Owner" data-testid="contacts-owner" value={owner} onChange={(e) => setOwner(e.currentTarget.value)}>
              <option value="">Any owner</option>
              {agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </form>
          {error && (
            <p class="pa-error" role="alert">
              {error}
            </p>
          )}
          {deleted && !error && (
            <p class="pa-sup-notice" role="status" data-testid="contact-deleted">
              {t("ctc.deleted")}
            </p>
          )}
          {list && list.length === 0 ? (
            <p class="pa-empty-line">{query || status || owner ? "No contact matches." : "No contacts yet: they appear when visitors leave an email."}</p>
          ) : (
            <table class="pa-sup-table" data-testid="contacts-list">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Email</th>
                  <th>Status</th>
                  <th>Owner</th>
                  <th>Since</th>
                </tr>
              </thead>
              <tbody>
                {(list ?? []).map((c) => (
                  <tr key={c.id} data-testid="contact-row" data-contact={c.id}>
                    <td>
                      <button type="button" class="pa-link" data-testid="contact-open" onClick={() => setOpen(c.id)}>
                        {c.name || c.email || "Unnamed contact"}
                      </button>
                    </td>
                    <td>{c.email}</td>
                    <td>
                      <span class={"pa-lead-badge pa-lead-" + c.status} data-testid="contact-status">
                        {leadStatuses[c.status] ?? c.status}
                      </span>
                    </td>
                    <td>{names.get(c.owner_id) ?? (c.owner_id ? "—" : "")}</td>
                    <td>{new Date(c.created_at).toLocaleDateString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {next && (
            <button type="button" class="pa-btn-outline pa-btn-sm pa-contacts-more" data-testid="contacts-more" onClick={() => load(next)}>
              Show more
            </button>
          )}
        </>
      )}
    </main>
  );
}
