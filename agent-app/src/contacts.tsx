// Contacts and leads (GET /api/contacts, /api/contacts/:id): every known
// visitor (pre-chat or offline form, a verified sign-in, an emailed
// reply) as one contact, searchable by name and email, filtered by lead
// status and owner, a page at a time; a contact's page lists its visitors
// and their conversations, and sets its status, owner and notes; an
// admin deletes it there (DELETE /api/contacts/:id), the conversations
// staying. LeadStatus is the select the visitor panel uses too.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorMessage } from "@parley/shared/http";
import type { ConversationInfo } from "../../pkg/protocol/protocol";
import { Dialog } from "./dialog";
import { dateTime, t, time } from "./i18n";
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

const leadStatuses = { new: "ctc.new", contacted: "ctc.contacted", won: "ctc.won", lost: "ctc.lost" } as const;

/** leadLabel is a lead status's name in the reader's language. */
const leadLabel = (status: string) => (status in leadStatuses ? t(leadStatuses[status as keyof typeof leadStatuses]) : status);

const conversationStatuses = { queued: "conv.status.queued", open: "conv.status.open", offline: "conv.status.offline", closed: "state.resolved" } as const;

/** conversationStatus names a conversation's status as the inbox does
 * (a closed one is resolved). */
const conversationStatus = (status: string) =>
  status in conversationStatuses ? t(conversationStatuses[status as keyof typeof conversationStatuses]) : status;

/** day is a date alone, the reader's way. */
const day = (iso: string) => dateTime(iso, { dateStyle: "medium" });

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
      aria-label={t("ctc.leadStatus")}
      data-testid="lead-status"
      value={props.contact.status}
      onChange={(e) => {
        const status = e.currentTarget.value;
        api<{ contact: Contact }>("PATCH", `/api/contacts/${encodeURIComponent(props.contact.id)}`, { status })
          .then((r) => props.onSaved(r.contact))
          .catch((err) => props.onError(errorMessage(err)));
      }}
    >
      {Object.keys(leadStatuses).map((v) => (
        <option key={v} value={v}>
          {leadLabel(v)}
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
  // what is the notice once saved ("Owner saved.").
  const save = (body: Record<string, string>, what: string) => {
    setError("");
    api<{ contact: Contact; visitors: ContactVisitor[]; conversations: ConversationInfo[] }>("PATCH", path, body)
      .then((r) => {
        show(r);
        setSaved(what);
      })
      .catch((e) => setError(errorMessage(e)));
  };
  if (!data) return <p class="pa-muted">{error || t("common.loading")}</p>;
  const c = data.contact;
  return (
    <div class="pa-contact" data-testid="contact-page">
      <button type="button" class="pa-link" data-testid="contact-back" onClick={props.onBack}>
        {t("ctc.all")}
      </button>
      <h2 class="pa-contact-name" data-testid="contact-name">
        {c.name || c.email || t("ctc.unnamed")}
      </h2>
      <dl class="pa-contact-facts">
        {c.email && (
          <>
            <dt>{t("ctc.email")}</dt>
            <dd data-testid="contact-email">{c.email}</dd>
          </>
        )}
        {c.phone && (
          <>
            <dt>{t("ctc.phone")}</dt>
            <dd>{c.phone}</dd>
          </>
        )}
        {c.user_id && (
          <>
            <dt>{t("ctc.userId")}</dt>
            <dd>
              {c.user_id} <span class="pa-verified">{t("ctc.verified")}</span>
            </dd>
          </>
        )}
        <dt>{t("ctc.since")}</dt>
        <dd>{day(c.created_at)}</dd>
        <dt>{t("ctc.leadStatus")}</dt>
        <dd>
          <LeadStatus
            contact={c}
            onSaved={(x) => {
              setData({ ...data, contact: x });
              props.onChanged(x);
              setError("");
              setSaved(t("ctc.statusSaved"));
            }}
            onError={setError}
          />
        </dd>
        <dt>{t("ctc.owner")}</dt>
        <dd>
          <select aria-label={t("ctc.owner")} data-testid="contact-owner" value={c.owner_id} onChange={(e) => save({ owner_id: e.currentTarget.value }, t("ctc.ownerSaved"))}>
            <option value="">{t("ctc.nobody")}</option>
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
        <h3>{t("ctc.notes")}</h3>
        <textarea class="pa-contact-notes" rows={3} maxLength={5000} value={notes} data-testid="contact-notes" onInput={(e) => setNotes(e.currentTarget.value)} />
        <button type="button" class="pa-btn pa-btn-sm" disabled={notes === c.notes} onClick={() => save({ notes }, t("ctc.notesSaved"))}>
          {t("ctc.saveNotes")}
        </button>
      </section>
      <section>
        <h3>
          {t("ctc.conversations")} <span class="pa-count">{data.conversations.length}</span>
        </h3>
        {data.conversations.length === 0 ? (
          <p class="pa-empty-line">{t("ctc.noConversations")}</p>
        ) : (
          <table class="pa-sup-table" data-testid="contact-conversations">
            <thead>
              <tr>
                <th>{t("ctc.started")}</th>
                <th>{t("ctc.status")}</th>
                <th>{t("ctc.agent")}</th>
                <th>{t("sup.lastMessage")}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.conversations.map((conv) => (
                <tr key={conv.id}>
                  <td>{time(conv.created_at)}</td>
                  <td>{conversationStatus(conv.status)}</td>
                  <td>{conv.agent_name || "—"}</td>
                  <td class="pa-sup-last">{conv.last_body ?? ""}</td>
                  <td>
                    <button type="button" class="pa-link" data-testid="contact-open-conversation" onClick={() => props.onOpen(conv)}>
                      {t("ctc.open")}
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
          {t("ctc.visitors")} <span class="pa-count">{data.visitors.length}</span>
        </h3>
        <p class="pa-muted">{t("ctc.visitorsWhy")}</p>
        <ul class="pa-contact-visitors" data-testid="contact-visitors">
          {data.visitors.map((v) => (
            <li key={v.id}>
              {v.name}
              {v.verified && <span class="pa-verified">{t("ctc.verified")}</span>}
              {v.email && <span class="pa-muted"> · {v.email}</span>}
              <span class="pa-muted"> · {t("ctc.lastSeen", { when: time(v.last_seen_at) })}</span>
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
    <main class="pa-sup pa-contacts" aria-label={t("side.contacts")}>
      <header class="pa-sup-head">
        <h1>{t("side.contacts")}</h1>
        <span class="pa-muted">{t("ctc.who")}</span>
        <button type="button" class="pa-link" data-testid="close-contacts" onClick={props.onClose}>
          {t("rep.backToInbox")}
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
              placeholder={t("ctc.searchPlaceholder")}
              aria-label={t("ctc.search")}
              data-testid="contacts-search"
              value={q}
              onInput={(e) => setQ(e.currentTarget.value)}
            />
            <button type="submit" class="pa-btn pa-btn-sm">
              {t("ctc.searchButton")}
            </button>
            <select aria-label={t("ctc.leadStatus")} data-testid="contacts-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">{t("ctc.anyStatus")}</option>
              {Object.keys(leadStatuses).map((v) => (
                <option key={v} value={v}>
                  {leadLabel(v)}
                </option>
              ))}
            </select>
            <select aria-label={t("ctc.owner")} data-testid="contacts-owner" value={owner} onChange={(e) => setOwner(e.currentTarget.value)}>
              <option value="">{t("ctc.anyOwner")}</option>
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
            <p class="pa-empty-line">{query || status || owner ? t("ctc.noMatch") : t("ctc.none")}</p>
          ) : (
            <table class="pa-sup-table" data-testid="contacts-list">
              <thead>
                <tr>
                  <th>{t("rep.name")}</th>
                  <th>{t("ctc.email")}</th>
                  <th>{t("ctc.status")}</th>
                  <th>{t("ctc.owner")}</th>
                  <th>{t("ctc.sinceShort")}</th>
                </tr>
              </thead>
              <tbody>
                {(list ?? []).map((c) => (
                  <tr key={c.id} data-testid="contact-row" data-contact={c.id}>
                    <td>
                      <button type="button" class="pa-link" data-testid="contact-open" onClick={() => setOpen(c.id)}>
                        {c.name || c.email || t("ctc.unnamed")}
                      </button>
                    </td>
                    <td>{c.email}</td>
                    <td>
                      <span class={"pa-lead-badge pa-lead-" + c.status} data-testid="contact-status">
                        {leadLabel(c.status)}
                      </span>
                    </td>
                    <td>{names.get(c.owner_id) ?? (c.owner_id ? "—" : "")}</td>
                    <td>{day(c.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {next && (
            <button type="button" class="pa-btn-outline pa-btn-sm pa-contacts-more" data-testid="contacts-more" onClick={() => load(next)}>
              {t("ctc.more")}
            </button>
          )}
        </>
      )}
    </main>
  );
}
