// Data & privacy (admins): how long the workspace keeps closed
// conversations and page views (the server's purge job enforces it), and
// a visitor's rights: find them by email, download everything stored
// about them as JSON, or delete them with all of it. Exports and
// deletions are in the audit log (by the visitor's id only).

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { Dialog, ScreenButton, when } from "./dialog";
import { type Key, type PluralKey, errorText as message, t, tn, tx } from "./i18n";

interface Retention {
  messages_days: number;
  page_views_days: number;
}

interface VisitorHit {
  visitor_id: string;
  visitor_name: string;
  snippet: string;
  created_at: string; // last seen
}

export function PrivacyButton() {
  return (
    <ScreenButton label={t("side.privacy")} testid="open-privacy">
      {() => <Privacy />}
    </ScreenButton>
  );
}

function Privacy() {
  return (
    <div data-testid="privacy-admin">
      <RetentionForm />
      <VisitorRights />
    </div>
  );
}

function RetentionForm() {
  const [r, setR] = useState<Retention | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    api<{ retention: Retention }>("GET", "/api/workspace/retention").then(
      (x) => setR(x.retention),
      (e) => setNote({ ok: false, text: message(e) }),
    );
  }, []);
  if (!r) return <p class="pa-muted">{note?.text ?? t("common.loading")}</p>;
  const save = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    try {
      const x = await api<{ retention: Retention }>("PUT", "/api/workspace/retention", r);
      setR(x.retention);
      setNote({ ok: true, text: t("privacy.saved") });
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  const days = (key: keyof Retention, label: Key, testid: string) => (
    <label>
      {t(label)}
      <input
        type="number"
        min={0}
        max={36500}
        data-testid={testid}
        value={r[key]}
        onInput={(e) => setR({ ...r, [key]: Math.max(0, Math.floor(Number(e.currentTarget.value) || 0)) })}
      />
    </label>
  );
  return (
    <form class="pa-inline-form" aria-label={t("privacy.retention")} onSubmit={save}>
      <h3>{t("privacy.retention")}</h3>
      <p class="pa-muted pa-full">{t("privacy.retentionHelp")}</p>
      {days("messages_days", "privacy.closedDays", "retain-messages")}
      {days("page_views_days", "privacy.pageDays", "retain-pages")}
      <button type="submit" class="pa-btn" data-testid="retention-save">
        {t("common.save")}
      </button>
      {note && (
        <div class={"pa-full " + (note.ok ? "pa-done" : "pa-error")} role={note.ok ? "status" : "alert"}>
          {note.text}
        </div>
      )}
    </form>
  );
}

const counted: Record<string, PluralKey> = {
  conversations: "privacy.n.conversations",
  messages: "privacy.n.messages",
  notes: "privacy.n.notes",
  attachments: "privacy.n.files",
  visitor_pages: "privacy.n.pageViews",
  visitor_events: "privacy.n.events",
  mail_outbox: "privacy.n.mails",
};

function VisitorRights() {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<VisitorHit[] | null>(null);
  const [searched, setSearched] = useState(""); // the email hits has
  const [deleting, setDeleting] = useState<VisitorHit | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const find = async (e?: Event) => {
    e?.preventDefault();
    setNote(null);
    const email = q.trim().toLowerCase();
    try {
      const r = await api<{ visitors: VisitorHit[] }>("GET", `/api/search?limit=50&q=${encodeURIComponent(email)}`);
      // The search matches words; keep the visitors whose email is this one.
      setHits(r.visitors.filter((v) => v.snippet.toLowerCase().split(/\s+/).includes(email)));
      setSearched(email);
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  const removed = (v: VisitorHit, deleted: Record<string, number>) => {
    setDeleting(null);
    // The tables people know by name (the answer also counts index rows).
    const what = Object.entries(counted)
      .filter(([k]) => deleted[k] > 0)
      .map(([k, key]) => tn(key, deleted[k]))
      .join(t("privacy.listSep"));
    const name = v.visitor_name || t("privacy.theVisitor");
    setNote({ ok: true, text: what ? t("privacy.deleted", { name, what }) : t("privacy.deletedNothing", { name }) });
    setHits((hs) => hs?.filter((h) => h.visitor_id !== v.visitor_id) ?? null);
  };
  return (
    <section aria-label={t("privacy.data")}>
      <form class="pa-inline-form" aria-label={t("privacy.find")} onSubmit={find}>
        <h3>{t("privacy.data")}</h3>
        <label>
          {t("privacy.email")}
          <input type="email" required class="pa-email-find" data-testid="privacy-email" placeholder="jane@example.com" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <button type="submit" class="pa-btn" data-testid="privacy-find">
          {t("privacy.findButton")}
        </button>
      </form>
      {note && (
        <div class={note.ok ? "pa-done" : "pa-error"} role={note.ok ? "status" : "alert"} data-testid="privacy-note">
          {note.text}
        </div>
      )}
      {hits?.length === 0 && <p class="pa-muted">{t("privacy.noMatch")}</p>}
      {hits && hits.length > 0 && (
        <table class="pa-table" data-testid="privacy-visitors">
          <thead>
            <tr>
              <th>{t("vp.visitor")}</th>
              <th>{t("privacy.lastSeen")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {hits.map((v) => (
              <tr key={v.visitor_id} data-testid="privacy-visitor">
                <td>
                  {v.visitor_name || t("search.visitor")}
                  <div class="pa-muted">{searched}</div>
                </td>
                <td>{when(v.created_at)}</td>
                <td class="pa-actions">
                  <a class="pa-btn-outline pa-btn-sm" data-testid="privacy-export" href={`/api/visitors/${encodeURIComponent(v.visitor_id)}/export`} download>
                    {t("privacy.export")}
                  </a>
                  <button type="button" class="pa-btn-outline pa-btn-danger pa-btn-sm" data-testid="privacy-delete" onClick={() => setDeleting(v)}>
                    {t("privacy.deleteDots")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deleting && <DeleteVisitor v={deleting} email={searched} onClose={() => setDeleting(null)} onDeleted={removed} />}
    </section>
  );
}

/** DeleteVisitor asks for the visitor's email typed again before deleting
 * them: a deletion cannot be undone. */
function DeleteVisitor(props: { v: VisitorHit; email: string; onClose: () => void; onDeleted: (v: VisitorHit, d: Record<string, number>) => void }) {
  const { v, email, onClose, onDeleted } = props;
  const [typed, setTyped] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const go = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const r = await api<{ deleted: Record<string, number> }>("DELETE", `/api/visitors/${encodeURIComponent(v.visitor_id)}`);
      onDeleted(v, r.deleted);
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={t("privacy.deleteTitle")} onClose={onClose}>
      <form class="pa-form-stack pa-danger-zone" onSubmit={go}>
        <p>{t("privacy.deleteWarn", { name: v.visitor_name || t("privacy.thisVisitor") })}</p>
        <label>
          <span>{tx("privacy.typeToConfirm", { email: <strong>{email}</strong> })}</span>
          <input data-testid="privacy-confirm" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        </label>
        {error && (
          <div class="pa-error" role="alert">
            {error}
          </div>
        )}
        <div class="pa-form-actions">
          <button type="submit" class="pa-btn pa-btn-danger-solid" data-testid="privacy-delete-confirm" disabled={busy || typed.trim().toLowerCase() !== email}>
            {t("privacy.deleteForGood")}
          </button>
          <button type="button" class="pa-btn-outline" onClick={onClose}>
            {t("common.cancel")}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
