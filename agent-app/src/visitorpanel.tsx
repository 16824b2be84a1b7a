// The visitor panel beside a conversation: who the visitor is (verified
// identity marked), custom attributes, the page they are on now and the
// pages before (with time on each, referrer, UTM), and their past
// conversations one click away.

import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "@parley/shared/http";
import type { ConversationInfo } from "../../pkg/protocol/protocol";
import { type Contact, LeadStatus } from "./contacts";
import { type Key, dateTime, errorText, num, t, time, tn } from "./i18n";

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

const kinds: Record<string, Key> = { desktop: "vp.kind.desktop", phone: "vp.kind.phone", tablet: "vp.kind.tablet", bot: "vp.kind.bot" };

/** deviceLine says "Chrome 131 on Windows 10/11 · Computer". */
function deviceLine(d: Visitor["device"]): string {
  if (!d) return "";
  const browser = [d.browser, d.browser_version].filter(Boolean).join(" ");
  const os = [d.os, d.os_version].filter(Boolean).join(" ");
  const what = browser && os ? t("vp.browserOn", { browser, os }) : browser || os;
  return [what, d.kind ? (kinds[d.kind] ? t(kinds[d.kind]) : d.kind) : ""].filter(Boolean).join(" · ");
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
    return num(v.value, { style: "currency", currency: v.currency });
  } catch {
    return `${v.value.toFixed(2)} ${v.currency}`;
  }
}

interface Attribute {
  type: string;
  value: unknown;
}

function duration(s: number): string {
  if (s < 60) return t("vp.seconds", { s: Math.round(s) });
  return t("vp.minutes", { m: Math.floor(s / 60), s: Math.round(s % 60) });
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
      setError(err instanceof ApiError ? errorText(err) : t("vp.notSaved"));
    }
  };
  const locked = visitor.verified ? t("vp.locked") : undefined;
  return (
    <form class="pa-contact-edit" data-testid="visitor-edit" onSubmit={(e) => void save(e)}>
      <label>
        {t("vp.name")}
        <input value={name} maxLength={200} required disabled={visitor.verified} title={locked} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        {t("vp.email")}
        <input type="email" value={email} maxLength={320} disabled={visitor.verified} title={locked} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        {t("vp.phone")}
        <input type="tel" value={phone} maxLength={40} onInput={(e) => setPhone(e.currentTarget.value)} />
      </label>
      {error && (
        <p class="pa-error" role="alert">
          {error}
        </p>
      )}
      <div class="pa-contact-actions">
        <button type="submit" class="pa-btn pa-btn-sm" data-testid="visitor-save">
          {t("common.save")}
        </button>
        <button type="button" class="pa-btn-outline pa-btn-sm" onClick={onCancel}>
          {t("common.cancel")}
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
    <aside class="pa-visitor" aria-label={t("vp.visitor")} data-testid="visitor-panel">
      <section>
        <h3>
          {t("vp.visitor")}
          {!editing && (
            <button type="button" class="pa-link pa-visitor-edit" data-testid="visitor-edit-open" onClick={() => setEditing(true)}>
              {t("common.edit")}
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
            <span class="pa-verified" data-testid="visitor-verified" title={t("vp.verifiedTitle")}>
              {t("vp.verified")}
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
        {visitor.locale && <div class="pa-muted">{t("vp.language", { lang: visitor.locale })}</div>}
        {deviceLine(visitor.device) && (
          <div class="pa-muted" data-testid="visitor-device">
            {deviceLine(visitor.device)}
          </div>
        )}
        {placeLine(visitor.place) && (
          <div class="pa-muted" data-testid="visitor-place" title={t("vp.placeTitle")}>
            {placeLine(visitor.place)}
          </div>
        )}
        <div class="pa-muted">{t("vp.firstSeen", { time: time(visitor.created_at) })}</div>
      </section>
      <section data-testid="visitor-lead">
        <h3>{t("vp.lead")}</h3>
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
            <span class="pa-muted">{t("vp.contactSince", { date: dateTime(contact.created_at, { dateStyle: "medium" }) })}</span>
          </div>
        ) : (
          <p class="pa-muted">{t("vp.notContact")}</p>
        )}
        {leadError && (
          <p class="pa-error" role="alert">
            {leadError}
          </p>
        )}
        <div class="pa-conversions" data-testid="visitor-conversions">
          {conversions.count === 0
            ? t("vp.noConversions")
            : `${tn("vp.conversions", conversions.count)} · ${conversions.values.map(money).join(" + ")}`}
        </div>
      </section>
      {Object.keys(attrs).length > 0 && (
        <section>
          <h3>{t("vp.attributes")}</h3>
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
        <h3>{t("vp.pages")}</h3>
        {pages.current && (
          <div class="pa-page pa-page-now" data-testid="visitor-current-page">
            <span class="pa-page-label">{t("vp.nowOn")}</span>
            <a href={pages.current.url} target="_blank" rel="noopener noreferrer">
              {pages.current.title || pages.current.url}
            </a>
          </div>
        )}
        {before.length === 0 && !pages.current && <p class="pa-muted">{t("vp.noPages")}</p>}
        <ol class="pa-pages" data-testid="visitor-pages">
          {before.map((p) => (
            <li key={p.url + p.started_at}>
              <a href={p.url} target="_blank" rel="noopener noreferrer">
                {p.title || p.url}
              </a>
              <span class="pa-muted">
                {" "}
                {time(p.started_at)} · {duration(p.seconds)}
                {p.referrer ? " · " + t("vp.from", { referrer: p.referrer }) : ""}
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
        <h3>{t("vp.past")}</h3>
        {others.length === 0 ? (
          <p class="pa-muted">{t("vp.noPast")}</p>
        ) : (
          <ul class="pa-past" data-testid="visitor-past">
            {others.map((c) => (
              <li key={c.id}>
                <button type="button" class="pa-link" onClick={() => onOpen(c)}>
                  {time(c.created_at)} · {c.status === "closed" ? t("state.resolved") : c.status === "open" ? t("state.open") : c.status === "queued" ? t("conv.status.queued") : c.status}
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
