// The Agents screen (admins): one place for the team. Each agent with role,
// status and last seen, languages, skills, teams and capacity, and what an
// admin does to an account (save, sign out everywhere, disable, enable);
// then adding an agent and inviting one by link. The APIs are
// pkg/service/http_routing.go (profiles), http_agents_admin.go (roles,
// disabling, sessions) and http_invites.go.

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { type AgentProfile, usePoll } from "./routing";
import { Table, useConfirm } from "./dialog";
import { type Key, dateTime, errorText, t, tn } from "./i18n";

interface Agent extends AgentProfile {
  disabled: boolean;
  two_factor: boolean;
  last_seen_at?: string;
}

interface Invite {
  id: string;
  email: string;
  role: string;
  expires_at: string;
}

const ROLES: Record<string, Key> = {
  agent: "agents.role.agent",
  supervisor: "agents.role.supervisor",
  admin: "agents.role.admin",
};
const roleName = (r: string) => (ROLES[r] ? t(ROLES[r]) : r);

/** RoleOptions are a role picker's choices, in the reader's language. */
const RoleOptions = () => (
  <>
    {Object.keys(ROLES).map((r) => (
      <option value={r}>{roleName(r)}</option>
    ))}
  </>
);

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

export function AgentsScreen({ self }: { self: string }) {
  const [agents, reload] = usePoll(() => api<{ agents: Agent[] }>("GET", "/api/agents").then((r) => r.agents), 5000);
  const [note, setNote] = useState("");
  return (
    <div class="pa-agents">
      {note && (
        <div class="pa-note" role="status" data-testid="agents-note">
          {note}
        </div>
      )}
      <Table
        class="pa-agents-table"
        testid="agents"
        head={[
          t("agents.agent"),
          t("rt.role"),
          t("filters.status"),
          t("rt.capacity"),
          t("rt.languages"),
          t("start.skills"),
          t("rt.teams"),
          <span class="pa-sr">{t("agents.actions")}</span>,
        ]}
        rows={agents}
      >
        {(a) => <AgentRow key={a.id} agent={a} self={a.id === self} onChanged={reload} onNote={setNote} />}
      </Table>
      <NewAgentForm onCreated={reload} />
      <Invites />
    </div>
  );
}

function lastSeen(a: Agent): string {
  if (a.routing_status !== "offline" && !a.disabled) return t("agents.hereNow");
  return a.last_seen_at ? t("agents.lastSeen", { time: dateTime(a.last_seen_at) }) : t("agents.neverSignedIn");
}

const statuses: Record<string, Key> = { online: "agents.online", away: "agents.away", offline: "agents.offline" };

function status(a: Agent): string {
  if (a.disabled) return t("agents.disabled");
  const s = statuses[a.routing_status] ? t(statuses[a.routing_status]) : a.routing_status;
  return `${s} · ${a.load}/${a.capacity}`;
}

function AgentRow(props: { agent: Agent; self: boolean; onChanged: () => void; onNote: (s: string) => void }) {
  const { agent: a, self, onChanged, onNote } = props;
  const [f, setF] = useState({
    capacity: String(a.capacity),
    languages: a.languages.join(", "),
    skills: a.skills.join(", "),
    teams: a.teams.join(", "),
  });
  // The fields follow what is stored when it changes (a save, another
  // admin's edit), and are left alone while the same values come back.
  const saved = [a.capacity, a.languages.join(", "), a.skills.join(", "), a.teams.join(", ")];
  useEffect(() => setF({ capacity: String(a.capacity), languages: saved[1] as string, skills: saved[2] as string, teams: saved[3] as string }), saved);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const url = `/api/agents/${encodeURIComponent(a.id)}`;
  const [confirmation, ask] = useConfirm();
  const run = async (what: () => Promise<string>) => {
    onNote("");
    try {
      onNote(await what());
    } catch (e) {
      onNote(t("agents.failed", { name: a.name, error: errorText(e) }));
    }
    onChanged(); // a refused change puts the row back
  };
  const save = () =>
    run(async () => {
      await api("PATCH", url, { capacity: Number(f.capacity), languages: list(f.languages), skills: list(f.skills), teams: list(f.teams) });
      return t("agents.saved", { name: a.name });
    });
  const role = (r: string) =>
    run(async () => {
      await api("PATCH", url, { role: r });
      return t("agents.roleSet", { name: a.name, role: roleName(r) });
    });
  const signOut = () =>
    run(async () => {
      const r = await api<{ sessions_ended: number }>("DELETE", url + "/sessions");
      return tn("agents.sessionsEnded", r.sessions_ended, { name: a.name });
    });
  const setDisabled = async (disable: boolean) => {
    if (disable && !(await ask(t("agents.disableQ", { name: a.name }), t("agents.disableOne", { name: a.name })))) return;
    void run(async () => {
      const r = await api<{ sessions_ended?: number }>("POST", url + (disable ? "/disable" : "/enable"));
      return disable ? tn("agents.disabledDone", r.sessions_ended ?? 0, { name: a.name }) : t("agents.enabledDone", { name: a.name });
    });
  };
  // For an agent who lost their phone and their recovery codes.
  const resetTwoFactor = async () => {
    if (!(await ask(t("agents.resetQ", { name: a.name }), t("agents.resetOne", { name: a.name })))) return;
    void run(async () => {
      await api("POST", url + "/totp/reset");
      return t("agents.resetDone", { name: a.name });
    });
  };
  return (
    <tr data-testid="agent-row" data-agent={a.id} data-disabled={String(a.disabled)}>
      <th scope="row">
        {a.name}
        {self && " " + t("agents.you")}
        <div class="pa-muted">{a.email}</div>
      </th>
      <td>
        <select class="pa-select" value={a.role} aria-label={t("agents.roleOf", { name: a.name })} onChange={(e) => void role(e.currentTarget.value)}>
          <RoleOptions />
        </select>
      </td>
      <td>
        <span data-testid="agent-status">{status(a)}</span>
        <div class="pa-muted">{lastSeen(a)}</div>
      </td>
      <td>
        <input type="number" min={0} max={100} class="pa-input pa-input-narrow" aria-label={t("agents.capacityOf", { name: a.name })} value={f.capacity} onInput={set("capacity")} />
      </td>
      <td>
        <input class="pa-input" aria-label={t("agents.languagesOf", { name: a.name })} placeholder={t("rt.any")} value={f.languages} onInput={set("languages")} />
      </td>
      <td>
        <input class="pa-input" aria-label={t("agents.skillsOf", { name: a.name })} value={f.skills} onInput={set("skills")} />
      </td>
      <td>
        <input class="pa-input" aria-label={t("agents.teamsOf", { name: a.name })} value={f.teams} onInput={set("teams")} />
      </td>
      <td class="pa-actions">
        <button type="button" class="pa-btn pa-btn-sm" aria-label={t("agents.saveOne", { name: a.name })} onClick={() => void save()}>
          {t("common.save")}
        </button>
        {!a.disabled && (
          <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={t("agents.signOutOne", { name: a.name })} onClick={() => void signOut()}>
            {t("common.signOut")}
          </button>
        )}
        {!self && a.two_factor && (
          <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={t("agents.resetOne", { name: a.name })} onClick={() => void resetTwoFactor()}>
            {t("agents.reset2fa")}
          </button>
        )}
        {!self &&
          (a.disabled ? (
            <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={t("agents.enableOne", { name: a.name })} onClick={() => void setDisabled(false)}>
              {t("agents.enable")}
            </button>
          ) : (
            <button type="button" class="pa-btn-outline pa-btn-sm pa-btn-danger" aria-label={t("agents.disableOne", { name: a.name })} onClick={() => void setDisabled(true)}>
              {t("agents.disable")}
            </button>
          ))}
        {confirmation}
      </td>
    </tr>
  );
}

function NewAgentForm({ onCreated }: { onCreated: () => void }) {
  const empty = { name: "", email: "", password: "", role: "agent", capacity: "5", languages: "", skills: "", teams: "" };
  const [f, setF] = useState(empty);
  const [note, setNote] = useState("");
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setNote("");
    try {
      await api("POST", "/api/agents", {
        name: f.name,
        email: f.email,
        password: f.password,
        role: f.role,
        capacity: Number(f.capacity),
        languages: list(f.languages),
        skills: list(f.skills),
        teams: list(f.teams),
      });
      setNote(t("agents.added", { name: f.name }));
      setF(empty);
      onCreated();
    } catch (err) {
      setNote(errorText(err));
    }
  };
  return (
    <form class="pa-form-grid" onSubmit={submit} aria-labelledby="new-agent-title" data-testid="new-agent">
      <h3 id="new-agent-title">{t("agents.add")}</h3>
      <label>
        {t("vp.name")} <input class="pa-input" required value={f.name} onInput={set("name")} />
      </label>
      <label>
        {t("login.email")} <input class="pa-input" type="email" required value={f.email} onInput={set("email")} />
      </label>
      <label>
        {t("login.password")} <input class="pa-input" type="password" required minLength={10} autocomplete="new-password" value={f.password} onInput={set("password")} />
      </label>
      <label>
        {t("rt.role")}
        <select class="pa-select" value={f.role} onChange={set("role")}>
          <RoleOptions />
        </select>
      </label>
      <label>
        {t("rt.capacity")} <input class="pa-input" type="number" min={0} max={100} value={f.capacity} onInput={set("capacity")} />
      </label>
      <label>
        {t("rt.languages")} <input class="pa-input" placeholder={t("agents.languagesHint")} value={f.languages} onInput={set("languages")} />
      </label>
      <label>
        {t("start.skills")} <input class="pa-input" placeholder={t("agents.skillsHint")} value={f.skills} onInput={set("skills")} />
      </label>
      <label>
        {t("rt.teams")} <input class="pa-input" placeholder={t("agents.teamsHint")} value={f.teams} onInput={set("teams")} />
      </label>
      <div class="pa-form-actions">
        <button type="submit" class="pa-btn">
          {t("agents.addButton")}
        </button>
        {note && <span role="status">{note}</span>}
      </div>
    </form>
  );
}

function Invites() {
  const [invites, reload] = usePoll(() => api<{ invites: Invite[] }>("GET", "/api/invites").then((r) => r.invites), 10000);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("agent");
  const [link, setLink] = useState("");
  const [mailed, setMailed] = useState<{ to: string; sent: boolean; error?: string } | null>(null);
  const [note, setNote] = useState("");
  const invite = async (e: Event) => {
    e.preventDefault();
    setNote("");
    setLink("");
    setMailed(null);
    try {
      const r = await api<{ link: string; emailed: boolean; email_error?: string }>("POST", "/api/invites", { email: email.trim(), role });
      setLink(r.link);
      setMailed({ to: email.trim(), sent: r.emailed, error: r.email_error });
      setEmail("");
      reload();
    } catch (err) {
      setNote(errorText(err));
    }
  };
  const revoke = async (id: string) => {
    try {
      await api("DELETE", `/api/invites/${encodeURIComponent(id)}`);
      reload();
    } catch (err) {
      setNote(errorText(err));
    }
  };
  return (
    <>
      <form class="pa-form-grid" onSubmit={invite} aria-labelledby="invite-title" data-testid="invite-form">
        <h3 id="invite-title">{t("start.inviteSomeone")}</h3>
        <label>
          {t("login.email")} <input class="pa-input" type="email" required data-testid="invite-email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          {t("rt.role")}
          <select class="pa-select" value={role} data-testid="invite-role" onChange={(e) => setRole(e.currentTarget.value)}>
            <RoleOptions />
          </select>
        </label>
        <div class="pa-form-actions">
          <button type="submit" class="pa-btn" data-testid="invite-create">
            {t("agents.createInvite")}
          </button>
        </div>
      </form>
      {link && (
        <p role="status" data-testid="invite-result">
          {mailed?.sent
            ? t("agents.inviteMailed", { email: mailed.to })
            : mailed?.error
              ? t("agents.inviteMailFailed", { error: mailed.error })
              : t("agents.inviteLinkOnly")}{" "}
          <input readOnly class="pa-input pa-invite-link" aria-label={t("agents.inviteLink")} data-testid="invite-link" value={link} onFocus={(e) => e.currentTarget.select()} />
        </p>
      )}
      {note && <div role="status">{note}</div>}
      <h3>{t("agents.pendingInvites")}</h3>
      {invites && invites.length === 0 && <p class="pa-muted">{t("agents.noInvites")}</p>}
      {invites && invites.length > 0 && (
        <table class="pa-table" data-testid="invites">
          <tbody>
            {invites.map((i) => (
              <tr key={i.id} data-testid="invite-row">
                <td>{i.email}</td>
                <td>{roleName(i.role)}</td>
                <td class="pa-muted">{t("agents.inviteUntil", { date: dateTime(i.expires_at, { dateStyle: "medium" }) })}</td>
                <td>
                  <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={t("agents.revokeInvite", { email: i.email })} onClick={() => void revoke(i.id)}>
                    {t("admin.revoke")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
