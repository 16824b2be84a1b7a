// Account security in the dashboard: sign out everywhere (everyone), team
// access for admins (invite by link, pending invites, and the agents: role,
// status, last seen; change a role, disable or enable an agent, sign one
// out), the audit log (admins), and the page an invite link opens.

import { useEffect, useState } from "preact/hooks";
import { ApiError, api } from "../../widget/src/shared/http";
import { Dialog, usePoll } from "./routing";

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

interface AgentRow {
  id: string;
  name: string;
  email: string;
  role: string;
  /** What routing sees now: online, away or offline (not connected). */
  routing_status: string;
  disabled: boolean;
  last_seen_at?: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** INVITE_PATH is where an invite link lands: /agent/invite/<token>. */
export const INVITE_PATH = "/agent/invite/";

export function SecuritySide({ self, role, onSignedOut }: { self: string; role: string; onSignedOut: () => void }) {
  const [dialog, setDialog] = useState<"" | "access" | "audit">("");
  const [note, setNote] = useState("");
  const everywhere = async () => {
    if (!confirm("Sign out on every device, including this one?")) return;
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
        <button type="button" class="pa-btn-ghost" data-testid="open-access" onClick={() => setDialog("access")}>
          Team access
        </button>
      )}
      {role === "admin" && (
        <button type="button" class="pa-btn-ghost" data-testid="open-audit" onClick={() => setDialog("audit")}>
          Audit log
        </button>
      )}
      <button type="button" class="pa-btn-ghost" data-testid="sign-out-everywhere" onClick={() => void everywhere()}>
        Sign out everywhere
      </button>
      {note && <div role="alert">{note}</div>}
      {dialog && (
        <Dialog title={dialog === "access" ? "Team access" : "Audit log"} onClose={() => setDialog("")}>
          {dialog === "access" ? <TeamAccess self={self} /> : <AuditLog />}
        </Dialog>
      )}
    </div>
  );
}

function TeamAccess({ self }: { self: string }) {
  const [invites, reload] = usePoll(() => api<{ invites: Invite[] }>("GET", "/api/invites").then((r) => r.invites), 10000);
  const [agents, reloadAgents] = usePoll(() => api<{ agents: AgentRow[] }>("GET", "/api/agents").then((r) => r.agents), 10000);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("agent");
  const [link, setLink] = useState("");
  const [note, setNote] = useState("");
  const invite = async (e: Event) => {
    e.preventDefault();
    setNote("");
    setLink("");
    try {
      const r = await api<{ link: string }>("POST", "/api/invites", { email: email.trim(), role });
      setLink(r.link);
      setEmail("");
      reload();
    } catch (err) {
      setNote(message(err));
    }
  };
  const revoke = async (id: string) => {
    try {
      await api("DELETE", `/api/invites/${encodeURIComponent(id)}`);
      reload();
    } catch (err) {
      setNote(message(err));
    }
  };
  const signOut = async (a: AgentRow) => {
    try {
      const r = await api<{ sessions_ended: number }>("DELETE", `/api/agents/${encodeURIComponent(a.id)}/sessions`);
      setNote(`${a.name}: ${r.sessions_ended} session(s) ended`);
    } catch (err) {
      setNote(message(err));
    }
  };
  const agentURL = (a: AgentRow) => `/api/agents/${encodeURIComponent(a.id)}`;
  const changeRole = async (a: AgentRow, role: string) => {
    setNote("");
    try {
      await api("PATCH", agentURL(a), { role });
      setNote(`${a.name} is now ${role}`);
    } catch (err) {
      setNote(message(err));
    }
    reloadAgents(); // a refused change puts the select back
  };
  const setDisabled = async (a: AgentRow, disable: boolean) => {
    if (disable && !confirm(`Disable ${a.name}? They are signed out everywhere, cannot sign in, and their conversations go to other agents.`)) return;
    setNote("");
    try {
      const r = await api<{ sessions_ended?: number }>("POST", agentURL(a) + (disable ? "/disable" : "/enable"));
      setNote(disable ? `${a.name} disabled: ${r.sessions_ended ?? 0} session(s) ended` : `${a.name} can sign in again`);
    } catch (err) {
      setNote(message(err));
    }
    reloadAgents();
  };
  return (
    <div class="pa-agents">
      <form class="pa-form-grid" onSubmit={invite} data-testid="invite-form">
        <h3>Invite someone</h3>
        <label>
          Email <input type="email" required data-testid="invite-email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select value={role} data-testid="invite-role" onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="agent">Agent</option>
            <option value="supervisor">Supervisor</option>
            <option value="admin">Admin</option>
          </select>
        </label>
        <button type="submit" class="pa-btn" data-testid="invite-create">
          Create invite link
        </button>
      </form>
      {link && (
        <p role="status">
          Send this link to them (it works once, for 7 days, and is not shown again):{" "}
          <input readOnly class="pa-invite-link" data-testid="invite-link" value={link} onFocus={(e) => e.currentTarget.select()} />
        </p>
      )}
      {note && <div role="status">{note}</div>}
      <h3>Pending invites</h3>
      {invites && invites.length === 0 && <p class="pa-muted">No pending invites.</p>}
      {invites && invites.length > 0 && (
        <table class="pa-table" data-testid="invites">
          <tbody>
            {invites.map((i) => (
              <tr key={i.id} data-testid="invite-row">
                <td>{i.email}</td>
                <td>{i.role}</td>
                <td class="pa-muted">until {new Date(i.expires_at).toLocaleDateString()}</td>
                <td>
                  <button type="button" class="pa-btn-outline" data-testid="invite-revoke" onClick={() => void revoke(i.id)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Agents</h3>
      <table class="pa-table" data-testid="team">
        <thead>
          <tr>
            <th>Agent</th>
            <th>Role</th>
            <th>Status</th>
            <th>Last seen</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {agents?.map((a) => (
            <tr key={a.id} data-testid="team-row" data-agent={a.id} data-disabled={String(a.disabled)}>
              <td>
                {a.name}
                {a.id === self && " (you)"}
                <div class="pa-muted">{a.email}</div>
              </td>
              <td>
                <select value={a.role} data-testid="team-role" aria-label={`Role of ${a.name}`} onChange={(e) => void changeRole(a, e.currentTarget.value)}>
                  <option value="agent">Agent</option>
                  <option value="supervisor">Supervisor</option>
                  <option value="admin">Admin</option>
                </select>
              </td>
              <td data-testid="team-status">{a.disabled ? "disabled" : a.routing_status}</td>
              <td class="pa-muted">{a.last_seen_at ? new Date(a.last_seen_at).toLocaleString() : "never"}</td>
              <td>
                {!a.disabled && (
                  <button type="button" class="pa-btn-outline" data-testid="agent-sign-out" onClick={() => void signOut(a)}>
                    Sign out everywhere
                  </button>
                )}{" "}
                {a.id !== self &&
                  (a.disabled ? (
                    <button type="button" class="pa-btn-outline" data-testid="team-enable" onClick={() => void setDisabled(a, false)}>
                      Enable
                    </button>
                  ) : (
                    <button type="button" class="pa-btn-outline" data-testid="team-disable" onClick={() => void setDisabled(a, true)}>
                      Disable
                    </button>
                  ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
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
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>On</th>
            <th>Details</th>
            <th>From</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-testid="audit-row" data-action={e.action}>
              <td>{new Date(e.at).toLocaleString()}</td>
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
          Older entries
        </button>
      )}
    </div>
  );
}

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
        <h1 id="invite-title">Join {checked?.workspace ?? "Parley"}</h1>
        {checked && (
          <p class="pa-muted" data-testid="invite-for">
            {checked.email} · {checked.role}
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
              Your name
              <input required data-testid="invite-name" autocomplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <label>
              Choose a password (at least 10 characters; a few unrelated words make a strong one)
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
              {busy ? "Joining…" : "Join and sign in"}
            </button>
          </>
        )}
        {!checked && !error && <p class="pa-muted">Checking your invite…</p>}
        {error && (
          <a class="pa-link" href="/app/">
            Go to sign-in
          </a>
        )}
      </form>
    </div>
  );
}
