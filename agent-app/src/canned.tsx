// Canned replies: saved answers inserted in the composer with /shortcut.
// The Canned replies screen lists the team's (changed by admins and
// supervisors) and the agent's own, and adds, edits and deletes them; the
// composer's picker (CannedPicker) searches them by shortcut and text and
// fills in the placeholders for the conversation at hand.

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { Dialog, useConfirm } from "./dialog";
import { type Key, errorText, t } from "./i18n";

export interface Canned {
  id: string;
  shortcut: string;
  body: string;
  scope: "team" | "personal";
}

// One list per page, shared by the screen and every composer; reloaded
// when the screen changes it.
let cache: Promise<Canned[]> | null = null;
const watchers = new Set<(list: Canned[]) => void>();

export function loadCanned(fresh = false): Promise<Canned[]> {
  if (!cache || fresh) {
    cache = api<{ canned: Canned[] }>("GET", "/api/canned").then((r) => r.canned);
    cache.then((list) => watchers.forEach((w) => w(list))).catch(() => (cache = null));
  }
  return cache;
}

/** useCanned returns the canned replies (empty until loaded). */
export function useCanned(): Canned[] {
  const [list, setList] = useState<Canned[]>([]);
  useEffect(() => {
    watchers.add(setList);
    loadCanned().then(setList, () => setList([]));
    return () => void watchers.delete(setList);
  }, []);
  return list;
}

/** The values placeholders are filled with. */
export interface Fill {
  visitorName: string;
  visitorEmail: string;
  agentName: string;
}

/** PLACEHOLDERS a canned reply may hold, with what fills them. */
export const PLACEHOLDERS: [string, Key][] = [
  ["{{visitor.name}}", "canned.ph.visitorName"],
  ["{{visitor.email}}", "canned.ph.visitorEmail"],
  ["{{agent.name}}", "canned.ph.agentName"],
  ["{{agent.first_name}}", "canned.ph.agentFirst"],
];

/** fill replaces the placeholders; one with no value becomes empty, and
 * an unknown one stays as written (a typo the agent sees before sending). */
export function fill(body: string, f: Fill): string {
  const values: Record<string, string> = {
    "visitor.name": f.visitorName,
    "visitor.email": f.visitorEmail,
    "agent.name": f.agentName,
    "agent.first_name": f.agentName.split(/\s+/)[0] ?? "",
  };
  return body.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, (all, key: string) => (key in values ? values[key] : all));
}

/** matches filters replies by a query: shortcut prefix first, then any
 * shortcut or text containing it. */
export function matches(list: Canned[], query: string): Canned[] {
  const q = query.toLowerCase();
  const starts = list.filter((c) => c.shortcut.startsWith(q));
  const rest = list.filter((c) => !c.shortcut.startsWith(q) && (c.shortcut.includes(q) || c.body.toLowerCase().includes(q)));
  return [...starts, ...rest].slice(0, 8);
}

/** CannedPicker is the list under the composer while the text is
 * "/query"; the composer moves `active` with the arrow keys. */
export function CannedPicker(props: { items: Canned[]; active: number; onPick: (c: Canned) => void; query: string }) {
  const { items, active, onPick, query } = props;
  return (
    <div class="pa-picker" role="listbox" aria-label={t("side.canned")} data-testid="canned-picker">
      {items.length === 0 ? (
        <div class="pa-picker-empty">{t("canned.none", { query })}</div>
      ) : (
        items.map((c, i) => (
          <div
            key={c.id}
            role="option"
            id={"canned-" + c.id}
            aria-selected={i === active}
            class={"pa-picker-item" + (i === active ? " pa-picker-active" : "")}
            data-testid="canned-option"
            onMouseDown={(e) => {
              e.preventDefault(); // keep the composer's focus
              onPick(c);
            }}
          >
            <span class="pa-picker-short">/{c.shortcut}</span>
            <span class="pa-picker-body">{c.body}</span>
            {c.scope === "personal" && <span class="pa-picker-scope">yours</span>}
          </div>
        ))
      )}
    </div>
  );
}

/** CannedButton opens the Canned replies screen. */
export function CannedButton({ role }: { role: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid="canned-open" onClick={() => setOpen(true)}>
        {t("side.canned")}
      </button>
      {open && <CannedScreen role={role} onClose={() => setOpen(false)} />}
    </>
  );
}

function CannedScreen({ role, onClose }: { role: string; onClose: () => void }) {
  const list = useCanned();
  const mayTeam = role === "admin" || role === "supervisor";
  const [editing, setEditing] = useState<Canned | null>(null);
  const [shortcut, setShortcut] = useState("");
  const [body, setBody] = useState("");
  const [scope, setScope] = useState<"team" | "personal">(mayTeam ? "team" : "personal");
  const [error, setError] = useState("");
  const [done, setDone] = useState("");
  const [confirm, ask] = useConfirm();

  const reset = () => {
    setEditing(null);
    setShortcut("");
    setBody("");
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setError("");
    setDone("");
    try {
      if (editing) await api("PATCH", `/api/canned/${editing.id}`, { shortcut, body });
      else await api("POST", "/api/canned", { shortcut, body, scope });
      setDone(t("canned.saved", { shortcut: "/" + shortcut.replace(/^\//, "").toLowerCase() }));
      reset();
      await loadCanned(true);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const remove = async (c: Canned) => {
    if (!(await ask(t("canned.deleteQ", { shortcut: "/" + c.shortcut }), t("canned.delete")))) return;
    try {
      await api("DELETE", `/api/canned/${c.id}`);
      await loadCanned(true);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const mayChange = (c: Canned) => c.scope === "personal" || mayTeam;
  return (
    <Dialog title={t("side.canned")} onClose={onClose} wide>
      <p class="pa-muted">
        {t("canned.help")}{" "}
        {PLACEHOLDERS.map(([p, what]) => (
          <span key={p} class="pa-placeholder" title={t(what)}>
            <code>{p}</code>{" "}
          </span>
        ))}
      </p>
      <table class="pa-canned-table" aria-label={t("side.canned")}>
        <thead>
          <tr>
            <th>{t("canned.shortcut")}</th>
            <th>{t("canned.reply")}</th>
            <th>{t("canned.for")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.length === 0 && (
            <tr>
              <td colSpan={4} class="pa-empty-line">
                {t("canned.empty")}
              </td>
            </tr>
          )}
          {list.map((c) => (
            <tr key={c.id} data-testid="canned-row">
              <td>
                <code>/{c.shortcut}</code>
              </td>
              <td class="pa-canned-body">{c.body}</td>
              <td>{c.scope === "team" ? t("views.team") : t("common.you")}</td>
              <td class="pa-canned-actions">
                {mayChange(c) && (
                  <>
                    <button
                      type="button"
                      class="pa-link"
                      aria-label={t("canned.editOne", { shortcut: "/" + c.shortcut })}
                      onClick={() => {
                        setEditing(c);
                        setShortcut(c.shortcut);
                        setBody(c.body);
                      }}
                    >
                      {t("common.edit")}
                    </button>{" "}
                    <button type="button" class="pa-link pa-link-danger" aria-label={t("canned.deleteOne", { shortcut: "/" + c.shortcut })} onClick={() => void remove(c)}>
                      {t("canned.delete")}
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="pa-form-stack" aria-label={editing ? t("canned.editOne", { shortcut: "/" + editing.shortcut }) : t("canned.add")} onSubmit={save}>
        <h3>{editing ? t("canned.editOne", { shortcut: "/" + editing.shortcut }) : t("canned.add")}</h3>
        <label>
          {t("canned.shortcut")}
          <input required maxLength={41} placeholder="thanks" value={shortcut} onInput={(e) => setShortcut(e.currentTarget.value)} />
        </label>
        <label>
          {t("canned.reply")}
          <textarea required rows={3} placeholder={t("canned.example")} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
        </label>
        {!editing && (
          <label>
            {t("canned.for")}
            <select value={scope} onChange={(e) => setScope(e.currentTarget.value as "team" | "personal")}>
              {mayTeam && <option value="team">{t("canned.wholeTeam")}</option>}
              <option value="personal">{t("canned.onlyMe")}</option>
            </select>
          </label>
        )}
        {error && (
          <div class="pa-error" role="alert">
            {error}
          </div>
        )}
        {done && <div role="status">{done}</div>}
        <div class="pa-form-actions">
          <button type="submit" class="pa-btn">
            {editing ? t("common.save") : t("canned.addReply")}
          </button>
          {editing && (
            <button type="button" class="pa-btn-outline" onClick={reset}>
              {t("common.cancel")}
            </button>
          )}
        </div>
      </form>
      {confirm}
    </Dialog>
  );
}
