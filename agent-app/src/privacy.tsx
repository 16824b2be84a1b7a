// Data & privacy (admins): how long the workspace keeps closed
// conversations and page views (the server's purge job enforces it), and
// a visitor's rights: find them by email, download everything stored
// about them as JSON, or delete them with all of it. Exports and
// deletions are in the audit log (by the visitor's id only).

import { useEffect, useState } from "preact/hooks";
import { api, errorMessage as message } from "@parley/shared/http";
import { Dialog, ScreenButton, when } from "./dialog";
import { t } from "./i18n";

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
  if (!r) return <p class="pa-muted">{note?.text ?? "Loading…"}</p>;
  const save = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    try {
      const x = await api<{ retention: Retention }>("PUT", "/api/workspace/retention", r);
      setR(x.retention);
      setNote({ ok: true, text: "Saved. Older data is deleted within the hour." });
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  const days = (key: keyof Retention, label: string, testid: string) => (
    <label>
      {label}
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
    <form class="pa-inline-form" aria-label="Retention" onSubmit={save}>
      <h3>Retention</h3>
      <p class="pa-muted pa-full">
        Days to keep closed conversations (messages, notes, files) and page views; 0 keeps them forever.
      </p>
      {days("messages_days", "Closed conversations (days)", "retain-messages")}
      {days("page_views_days", "Page views (days)", "retain-pages")}
      <button type="submit" class="pa-btn" data-testid="retention-save">
        Save
      </button>
      {note && (
        <div class={"pa-full " + (note.ok ? "pa-done" : "pa-error")} role={note.ok ? "status" : "alert"}>
          {note.text}
        </div>
      )}
    </form>
  );
}

const counted: Record<string, string> = {
  conversations: "conversation(s)",
  messages: "message(s)",
  notes: "note(s)",
  attachments: "file(s)",
  visitor_pages: "page view(s)",
  visitor_events: "event(s)",
  mail_outbox: "mail(s)",
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
    const n = Object.entries(counted)
      .filter(([k]) => deleted[k] > 0)
      .map(([k, what]) => `${deleted[k]} ${what}`)
      .join(", ");
    setNote({ ok: true, text: `${v.visitor_name || "The visitor"} is deleted${n ? ": " + n : ""}. The audit log records it.` });
    setHits((hs) => hs?.filter((h) => h.visitor_id !== v.visitor_id) ?? null);
  };
  return (
    <section aria-label="A visitor's data">
      <form class="pa-inline-form" aria-label="Find a visitor" onSubmit={find}>
        <h3>A visitor's data</h3>
        <label>
          Visitor's email
          <input type="email" required class="pa-email-find" data-testid="privacy-email" placeholder="jane@example.com" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <button type="submit" class="pa-btn" data-testid="privacy-find">
          Find
        </button>
      </form>
      {note && (
        <div class={note.ok ? "pa-done" : "pa-error"} role={note.ok ? "status" : "alert"} data-testid="privacy-note">
          {note.text}
        </div>
      )}
      {hits?.length === 0 && <p class="pa-muted">No visitor has this email.</p>}
      {hits && hits.length > 0 && (
        <table class="pa-table" data-testid="privacy-visitors">
          <thead>
            <tr>
              <th>Visitor</th>
              <th>Last seen</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {hits.map((v) => (
              <tr key={v.visitor_id} data-testid="privacy-visitor">
                <td>
                  {v.visitor_name || "Visitor"}
                  <div class="pa-muted">{searched}</div>
                </td>
                <td>{when(v.created_at)}</td>
                <td class="pa-actions">
                  <a class="pa-btn-outline pa-btn-sm" data-testid="privacy-export" href={`/api/visitors/${encodeURIComponent(v.visitor_id)}/export`} download>
                    Export JSON
                  </a>
                  <button type="button" class="pa-btn-outline pa-btn-danger pa-btn-sm" data-testid="privacy-delete" onClick={() => setDeleting(v)}>
                    Delete…
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
    <Dialog title="Delete the visitor?" onClose={onClose}>
      <form class="pa-form-stack pa-danger-zone" onSubmit={go}>
        <p>
          Everything stored about {v.visitor_name || "this visitor"} goes for good: their conversations, messages, notes, files, page views and events.
          Download an export first if you need to send it to them.
        </p>
        <label>
          <span>
            Type <strong>{email}</strong> to confirm
          </span>
          <input data-testid="privacy-confirm" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        </label>
        {error && (
          <div class="pa-error" role="alert">
            {error}
          </div>
        )}
        <div class="pa-form-actions">
          <button type="submit" class="pa-btn pa-btn-danger-solid" data-testid="privacy-delete-confirm" disabled={busy || typed.trim().toLowerCase() !== email}>
            Delete for good
          </button>
          <button type="button" class="pa-btn-outline" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
