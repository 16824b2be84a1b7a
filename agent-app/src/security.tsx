// Account security in the dashboard: sign out everywhere (everyone), the
// audit log (admins), and the page an invite link opens. Inviting,
// roles, disabling and signing agents out are on the Agents screen
// (agents.tsx).

import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorMessage as message } from "@parley/shared/http";
import { Dialog, useConfirm } from "./dialog";
import { dateTime, t } from "./i18n";

interface Invite {
  id: string;
  email: string;
  role: string;
  expires_at: string;
  created_at: string;
}

interface AuditEntry {
  id: number;
  actor_name: string;
  action: string;
  target: string;
  detail: string;
  ip: string;
  at: string;
}

/** INVITE_PATH is where an invite link lands: /agent/invite/<token>. */
export const INVITE_PATH = "/agent/invite/";

export function SecuritySide({ role, onSignedOut }: { role: string; onSignedOut: () => void }) {
  const [dialog, setDialog] = useState<"" | "audit">("");
  const [note, setNote] = useState("");
  const [confirmation, ask] = useConfirm();
  const everywhere = async () => {
    if (!(await ask(t("sec.everywhereQ"), t("sec.everywhere")))) return;
    try {
      await api("DELETE", "/api/agents/me/sessions");
      onSignedOut();
    } catch (e) {
      setNote(message(e));
    }
  };
  return (
    <div class="pa-routing-links">
      {role === "admin" && (
        <button type="button" class="pa-btn-ghost" data-testid="open-audit" onClick={() => setDialog("audit")}>
          {t("sec.audit")}
        </button>
      )}
      <button type="button" class="pa-btn-ghost" data-testid="sign-out-everywhere" onClick={() => void everywhere()}>
        {t("sec.everywhere")}
      </button>
      {note && <div role="alert">{note}</div>}
      {confirmation}
      {dialog && (
        <Dialog title={t("sec.audit")} wide onClose={() => setDialog("")}>
          <AuditLog />
        </Dialog>
      )}
    </div>
  );
}

function AuditLog() {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(0);
  const [note, setNote] = useState("");
  const load = async (before: number) => {
    try {
      const r = await api<{ entries: AuditEntry[]; next_before?: number }>("GET", `/api/audit?limit=50${before ? "&before=" + before : ""}`);
      setEntries((old) => (before ? [...old, ...r.entries] : r.entries));
      setNext(r.next_before ?? null);
    } catch (e) {
      setNote(message(e));
    }
  };
  useEffect(() => {
    void load(0);
  }, []);
  return (
    <div class="pa-agents">
      {note && <div role="alert">{note}</div>}
      <table class="pa-table" data-testid="audit">
        <thead>
          <tr>
            <th>{t("sec.when")}</th>
            <th>{t("sec.who")}</th>
            <th>{t("sec.what")}</th>
            <th>{t("sec.on")}</th>
            <th>{t("sec.details")}</th>
            <th>{t("sec.from")}</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-testid="audit-row" data-action={e.action}>
              <td>{dateTime(e.at)}</td>
              <td>{e.actor_name || "—"}</td>
              <td>{e.action.replace(/_/g, " ")}</td>
              <td>{e.target}</td>
              <td class="pa-muted">{e.detail}</td>
              <td class="pa-muted">{e.ip}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next !== null && next > 0 && (
        <button type="button" class="pa-btn-outline" data-testid="audit-more" onClick={() => void load(next)}>
          {t("sec.older")}
        </button>
      )}
    </div>
  );
}

const roles = { admin: "sec.roleAdmin", supervisor: "sec.roleSupervisor", agent: "sec.roleAgent" } as const;

/** roleName is a role's name in the reader's language. */
const roleName = (role: string) => (role in roles ? t(roles[role as keyof typeof roles]) : role);

/** InviteAccept is the page of an invite link: choose a name and a
 * password, and be signed in. */
export function InviteAccept({ token, onSignedIn }: { token: string; onSignedIn: () => Promise<void> }) {
  const [checked, setChecked] = useState<{ email: string; role: string; workspace?: string } | null>(null);
  const [error, setError] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<{ invite: Invite; workspace: { name?: string } }>("POST", "/api/invites/check", { token }).then(
      (r) => setChecked({ email: r.invite.email, role: r.invite.role, workspace: r.workspace.name }),
      (e) => setError(message(e)),
    );
  }, [token]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await api("POST", "/api/invites/accept", { token, name: name.trim(), password });
      // The token is spent: leave its URL so a reload does not retry it.
      history.replaceState(null, "", "/app/");
      await onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : message(err));
      setBusy(false);
    }
  };
  return (
    <div class="pa-center pa-login-bg">
      <form class="pa-card pa-login" onSubmit={submit} aria-labelledby="invite-title" data-testid="invite-accept">
        <h1 id="invite-title">{t("sec.join", { workspace: checked?.workspace ?? "Parley" })}</h1>
        {checked && (
          <p class="pa-muted" data-testid="invite-for">
            {checked.email} · {roleName(checked.role)}
          </p>
        )}
        {error && (
          <div class="pa-error" role="alert" data-testid="invite-error">
            {error}
          </div>
        )}
        {checked && (
          <>
            <label>
              {t("sec.yourName")}
              <input required data-testid="invite-name" autocomplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <label>
              {t("sec.choosePassword", { n: 10 })}
              <input
                type="password"
                required
                minLength={10}
                data-testid="invite-password"
                autocomplete="new-password"
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </label>
            <button type="submit" class="pa-btn pa-btn-block" data-testid="invite-submit" disabled={busy}>
              {busy ? t("sec.joining") : t("sec.joinSignIn")}
            </button>
          </>
        )}
        {!checked && !error && <p class="pa-muted">{t("sec.checking")}</p>}
        {error && (
          <a class="pa-link" href="/app/">
            {t("sec.goSignIn")}
          </a>
        )}
      </form>
    </div>
  );
}
