// The visitor panel beside a conversation: who the visitor is (verified
// identity marked), custom attributes, the page they are on now and the
// pages before (with time on each, referrer, UTM), and their past
// conversations one click away.

import { useEffect, useState } from "preact/hooks";
import { shortTime } from "@parley/shared/format";
import { api, ApiError } from "@parley/shared/http";
import type { ConversationInfo } from "../../pkg/protocol/protocol";
import { type Contact, LeadStatus } from "./contacts";

interface Visitor {
  id: string;
  name: string;
  email?: string;
  phone?: string;
  custom?: Record<string, string>;
  verified: boolean;
  locale?: string;
  created_at: string;
  device?: { browser?: string; browser_version?: string; os?: string; os_version?: string; kind?: string };
  place?: { country_code?: string; country?: string; region?: string; city?: string };
}

const kinds: Record<string, string> = { desktop: "Computer", phone: "Phone", tablet: "Tablet", bot: "Robot" };

/** deviceLine says "Chrome 131 on Windows 10/11 · Computer". */
function deviceLine(d: Visitor["device"]): string {
  if (!d) return "";
  const browser = [d.browser, d.browser_version].filter(Boolean).join(" ");
  const os = [d.os, d.os_version].filter(Boolean).join(" ");
  const what = browser && os ? `${browser} on ${os}` : browser || os;
  return [what, d.kind ? kinds[d.kind] ?? d.kind : ""].filter(Boolean).join(" · ");
}

/** placeLine says "Lisbon, Portugal" (the region only when it adds). */
function placeLine(p: Visitor["place"]): string {
  if (!p) return "";
  return [p.city, p.region !== p.city ? p.region : "", p.country || p.country_code].filter(Boolean).join(", ");
}

interface Page {
  url: string;
  title: string;
  referrer?: string;
  utm?: Record<string, string>;
  started_at: string;
  seconds: number;
}

/** Conversions: the purchases attributed to the visitor's chats. */
interface Conversions {
  count: number;
  values: { currency: string; value: number }[];
}

/** money says "€49.50" (or "49.50" with no currency). */
function money(v: { currency: string; value: number }): string {
  if (!v.currency) return v.value.toFixed(2);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: v.currency }).format(v.value);
  } catch {
    return `${v.value.toFixed(2)} ${v.currency}`;
  }
}

interface Attribute {
  type: string;
  value: unknown;
}

function duration(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** ContactEdit lets an agent correct or complete the visitor's name,
 * email and phone; a verified visitor's name and email are the site's. */
function ContactEdit({ visitor, onSaved, onCancel }: { visitor: Visitor; onSaved: (v: Visitor) => void; onCancel: () => void }) {
  const [name, setName] = useState(visitor.name);
  const [email, setEmail] = useState(visitor.email ?? "");
  const [phone, setPhone] = useState(visitor.phone ?? "");
  const [error, setError] = useState("");
  const save = async (e: Event) => {
    e.preventDefault();
    setError("");
    const body: Record<string, string> = { phone };
    if (!visitor.verified) Object.assign(body, { name, email });
    try {
      onSaved((await api<{ visitor: Visitor }>("PATCH", `/api/visitors/${encodeURIComponent(visitor.id)}`, body)).visitor);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "Could not save.");
    }
  };
  const locked = visitor.verified ? "Set by the site's sign-in (verified)" : undefined;
  return (
    <form class="pa-contact-edit" data-testid="visitor-edit" onSubmit={(e) => void save(e)}>
      <label>
        Name
        <input value={name} maxLength={200} required disabled={visitor.verified} title={locked} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Email
        <input type="email" value={email} maxLength={320} disabled={visitor.verified} title={locked} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        Phone
        <input type="tel" value={phone} maxLength={40} onInput={(e) => setPhone(e.currentTarget.value)} />
      </label>
      {error && (
        <p class="pa-error" role="alert">
          {error}
        </p>
      )}
      <div class="pa-contact-actions">
        <button type="submit" class="pa-btn pa-btn-sm" data-testid="visitor-save">
          Save
        </button>
        <button type="button" class="pa-btn-outline pa-btn-sm" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** VisitorPanel shows the conversation's visitor. The page trail is read
 * again every few seconds while the panel is open, so the page the
 * visitor is on now stays current. */
export function VisitorPanel({ info, onOpen }: { info: ConversationInfo; onOpen: (c: ConversationInfo) => void }) {
  const id = info.visitor_id;
  const [visitor, setVisitor] = useState<Visitor | null>(null);
  const [past, setPast] = useState<ConversationInfo[]>([]);
  const [pages, setPages] = useState<{ pages: Page[]; current?: Page }>({ pages: [] });
  const [attrs, setAttrs] = useState<Record<string, Attribute>>({});
  const [editing, setEditing] = useState(false);
  const [contact, setContact] = useState<Contact | null>(null);
  const [conversions, setConversions] = useState<Conversions>({ count: 0, values: [] });
  const [leadError, setLeadError] = useState("");
  useEffect(() => {
    const base = `/api/visitors/${encodeURIComponent(id)}`;
    void api<{ visitor: Visitor; conversations: ConversationInfo[]; contact: Contact | null; conversions: Conversions }>("GET", base).then(
      (r) => {
        setVisitor(r.visitor);
        setPast(r.conversations);
        setContact(r.contact);
        setConversions(r.conversions ?? { count: 0, values: [] });
      },
      () => {},
    );
    void api<{ attributes: Record<string, Attribute> }>("GET", base + "/attributes").then((r) => setAttrs(r.attributes ?? {}), () => {});
    const trail = () => void api<{ pages: Page[]; current?: Page }>("GET", base + "/pages").then((r) => setPages(r), () => {});
    trail();
    const timer = setInterval(trail, 5000);
    return () => clearInterval(timer);
  }, [id, info.visitor_seen_at]);
  if (!visitor) return null;
  const others = past.filter((c) => c.id !== info.id);
  const before = pages.pages.filter((p) => p !== pages.current && p.url !== pages.current?.url);
  return (
    <aside class="pa-visitor" aria-label="Visitor" data-testid="visitor-panel">
      <section>
        <h3>
          Visitor
          {!editing && (
            <button type="button" class="pa-link pa-visitor-edit" data-testid="visitor-edit-open" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
        </h3>
        {editing && (
          <ContactEdit
            visitor={visitor}
            onSaved={(v) => {
              setVisitor(v);
              setEditing(false);
            }}
            onCancel={() => setEditing(false)}
          />
        )}
        <div class="pa-visitor-name" data-testid="visitor-panel-name">
          {visitor.name}
          {visitor.verified && (
            <span class="pa-verified" data-testid="visitor-verified" title="The site's backend vouched for this identity">
              Verified
            </span>
          )}
        </div>
        {visitor.email && <div data-testid="visitor-panel-email">{visitor.email}</div>}
        {visitor.phone && <div data-testid="visitor-panel-phone">{visitor.phone}</div>}
        {visitor.custom &&
          Object.entries(visitor.custom).map(([k, v]) => (
            <div key={k} class="pa-muted">
              {k}: {v}
            </div>
          ))}
        {visitor.locale && <div class="pa-muted">Language: {visitor.locale}</div>}
        {deviceLine(visitor.device) && (
          <div class="pa-muted" data-testid="visitor-device">
            {deviceLine(visitor.device)}
          </div>
        )}
        {placeLine(visitor.place) && (
          <div class="pa-muted" data-testid="visitor-place" title="Approximate, from the visitor's address">
            {placeLine(visitor.place)}
          </div>
        )}
        <div class="pa-muted">First seen {shortTime(visitor.created_at)}</div>
      </section>
      <section data-testid="visitor-lead">
        <h3>Lead</h3>
        {contact ? (
          <div class="pa-lead-row">
            <LeadStatus
              contact={contact}
              onSaved={(c) => {
                setContact(c);
                setLeadError("");
              }}
              onError={setLeadError}
            />
            <span class="pa-muted">contact since {new Date(contact.created_at).toLocaleDateString()}</span>
          </div>
        ) : (
          <p class="pa-muted">Not a contact yet: one is made when the visitor leaves an email or phone, or signs in.</p>
        )}
        {leadError && (
          <p class="pa-error" role="alert">
            {leadError}
          </p>
        )}
        <div class="pa-conversions" data-testid="visitor-conversions">
          {conversions.count === 0
            ? "No conversions"
            : `${conversions.count} ${conversions.count === 1 ? "conversion" : "conversions"} · ${conversions.values.map(money).join(" + ")}`}
        </div>
      </section>
      {Object.keys(attrs).length > 0 && (
        <section>
          <h3>Attributes</h3>
          <dl class="pa-attrs" data-testid="visitor-attributes">
            {Object.entries(attrs).map(([k, a]) => (
              <>
                <dt key={k + ":k"}>{k}</dt>
                <dd key={k + ":v"}>{String(a.value)}</dd>
              </>
            ))}
          </dl>
        </section>
      )}
      <section>
        <h3>Pages</h3>
        {pages.current && (
          <div class="pa-page pa-page-now" data-testid="visitor-current-page">
            <span class="pa-page-label">Now on</span>
            <a href={pages.current.url} target="_blank" rel="noopener noreferrer">
              {pages.current.title || pages.current.url}
            </a>
          </div>
        )}
        {before.length === 0 && !pages.current && <p class="pa-muted">No pages recorded.</p>}
        <ol class="pa-pages" data-testid="visitor-pages">
          {before.map((p) => (
            <li key={p.url + p.started_at}>
              <a href={p.url} target="_blank" rel="noopener noreferrer">
                {p.title || p.url}
              </a>
              <span class="pa-muted">
                {" "}
                {shortTime(p.started_at)} · {duration(p.seconds)}
                {p.referrer ? ` · from ${p.referrer}` : ""}
                {p.utm && Object.values(p.utm).some(Boolean)
                  ? " · " +
                    Object.entries(p.utm)
                      .filter(([, v]) => v)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(" ")
                  : ""}
              </span>
            </li>
          ))}
        </ol>
      </section>
      <section>
        <h3>Past conversations</h3>
        {others.length === 0 ? (
          <p class="pa-muted">None before this one.</p>
        ) : (
          <ul class="pa-past" data-testid="visitor-past">
            {others.map((c) => (
              <li key={c.id}>
                <button type="button" class="pa-link" onClick={() => onOpen(c)}>
                  {shortTime(c.created_at)} · {c.status === "closed" ? "resolved" : c.status}
                </button>
                {c.last_body && <div class="pa-muted pa-past-body">{c.last_body}</div>}
              </li>
            ))}
          </ul>
        )}
      </section>
    </aside>
  );
}
