// The Agents screen (admins): one place for the team. Each agent with role,
// status and last seen, languages, skills, teams and capacity, and what an
// admin does to an account (save, sign out everywhere, disable, enable);
// then adding an agent and inviting one by link. The APIs are
// pkg/service/http_routing.go (profiles), http_agents_admin.go (roles,
// disabling, sessions) and http_invites.go.

import { useEffect, useState } from "preact/hooks";
import { api, errorMessage as message } from "@parley/shared/http";
import { type AgentProfile, usePoll } from "./routing";
import { Table, useConfirm } from "./dialog";

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

const ROLES = [
  ["agent", "Agent"],
  ["supervisor", "Supervisor"],
  ["admin", "Admin"],
];

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
        head={["Agent", "Role", "Status", "Capacity", "Languages", "Skills", "Teams", <span class="pa-sr">Actions</span>]}
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
  if (a.routing_status !== "offline" && !a.disabled) return "here now";
  return a.last_seen_at ? "last seen " + new Date(a.last_seen_at).toLocaleString() : "never signed in";
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
      onNote(`${a.name}: ${message(e)}`);
    }
    onChanged(); // a refused change puts the row back
  };
  const save = () =>
    run(async () => {
      await api("PATCH", url, { capacity: Number(f.capacity), languages: list(f.languages), skills: list(f.skills), teams: list(f.teams) });
      return `${a.name}: saved`;
    });
  const role = (r: string) =>
    run(async () => {
      await api("PATCH", url, { role: r });
      return `${a.name} is now ${r}`;
    });
  const signOut = () =>
    run(async () => {
      const r = await api<{ sessions_ended: number }>("DELETE", url + "/sessions");
      return `${a.name}: ${r.sessions_ended} session(s) ended`;
    });
  const setDisabled = async (disable: boolean) => {
    if (disable && !(await ask(`${a.name} is signed out everywhere, cannot sign in, and their conversations go to other agents.`, `Disable ${a.name}`))) return;
    void run(async () => {
      const r = await api<{ sessions_ended?: number }>("POST", url + (disable ? "/disable" : "/enable"));
      return disable ? `${a.name} disabled: ${r.sessions_ended ?? 0} session(s) ended` : `${a.name} can sign in again`;
    });
  };
  // For an agent who lost their phone and their recovery codes.
  const resetTwoFactor = async () => {
    if (!(await ask(`${a.name} will sign in with the password alone until they set two-factor sign-in up again.`, `Reset two-factor sign-in of ${a.name}`))) return;
    void run(async () => {
      await api("POST", url + "/totp/reset");
      return `${a.name}: two-factor sign-in reset`;
    });
  };
  return (
    <tr data-testid="agent-row" data-agent={a.id} data-disabled={String(a.disabled)}>
      <th scope="row">
        {a.name}
        {self && " (you)"}
        <div class="pa-muted">{a.email}</div>
      </th>
      <td>
        <select class="pa-select" value={a.role} aria-label={`Role of ${a.name}`} onChange={(e) => void role(e.currentTarget.value)}>
          {ROLES.map(([v, label]) => (
            <option value={v}>{label}</option>
          ))}
        </select>
      </td>
      <td>
        <span data-testid="agent-status">{a.disabled ? "disabled" : `${a.routing_status} · ${a.load}/${a.capacity}`}</span>
        <div class="pa-muted">{lastSeen(a)}</div>
      </td>
      <td>
        <input type="number" min={0} max={100} class="pa-input pa-input-narrow" aria-label={`Capacity of ${a.name}`} value={f.capacity} onInput={set("capacity")} />
      </td>
      <td>
        <input class="pa-input" aria-label={`Languages of ${a.name}`} placeholder="any" value={f.languages} onInput={set("languages")} />
      </td>
      <td>
        <input class="pa-input" aria-label={`Skills of ${a.name}`} value={f.skills} onInput={set("skills")} />
      </td>
      <td>
        <input class="pa-input" aria-label={`Teams of ${a.name}`} value={f.teams} onInput={set("teams")} />
      </td>
      <td class="pa-actions">
        <button type="button" class="pa-btn pa-btn-sm" aria-label={`Save ${a.name}`} onClick={() => void save()}>
          Save
        </button>
        {!a.disabled && (
          <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={`Sign ${a.name} out everywhere`} onClick={() => void signOut()}>
            Sign out
          </button>
        )}
        {!self && a.two_factor && (
          <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={`Reset two-factor sign-in of ${a.name}`} onClick={() => void resetTwoFactor()}>
            Reset 2FA
          </button>
        )}
        {!self &&
          (a.disabled ? (
            <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={`Enable ${a.name}`} onClick={() => void setDisabled(false)}>
              Enable
            </button>
          ) : (
            <button type="button" class="pa-btn-outline pa-btn-sm pa-btn-danger" aria-label={`Disable ${a.name}`} onClick={() => void setDisabled(true)}>
              Disable
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
      setNote(`${f.name} added`);
      setF(empty);
      onCreated();
    } catch (err) {
      setNote(message(err));
    }
  };
  return (
    <form class="pa-form-grid" onSubmit={submit} aria-labelledby="new-agent-title" data-testid="new-agent">
      <h3 id="new-agent-title">Add an agent</h3>
      <label>
        Name <input class="pa-input" required value={f.name} onInput={set("name")} />
      </label>
      <label>
        Email <input class="pa-input" type="email" required value={f.email} onInput={set("email")} />
      </label>
      <label>
        Password <input class="pa-input" type="password" required minLength={10} autocomplete="new-password" value={f.password} onInput={set("password")} />
      </label>
      <label>
        Role
        <select class="pa-select" value={f.role} onChange={set("role")}>
          {ROLES.map(([v, label]) => (
            <option value={v}>{label}</option>
          ))}
        </select>
      </label>
      <label>
        Capacity <input class="pa-input" type="number" min={0} max={100} value={f.capacity} onInput={set("capacity")} />
      </label>
      <label>
        Languages <input class="pa-input" placeholder="en, fr (empty: any)" value={f.languages} onInput={set("languages")} />
      </label>
      <label>
        Skills <input class="pa-input" placeholder="billing, refunds" value={f.skills} onInput={set("skills")} />
      </label>
      <label>
        Teams <input class="pa-input" placeholder="support" value={f.teams} onInput={set("teams")} />
      </label>
      <div class="pa-form-actions">
        <button type="submit" class="pa-btn">
          Add agent
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
  return (
    <>
      <form class="pa-form-grid" onSubmit={invite} aria-labelledby="invite-title" data-testid="invite-form">
        <h3 id="invite-title">Invite someone</h3>
        <label>
          Email <input class="pa-input" type="email" required data-testid="invite-email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select class="pa-select" value={role} data-testid="invite-role" onChange={(e) => setRole(e.currentTarget.value)}>
            {ROLES.map(([v, label]) => (
              <option value={v}>{label}</option>
            ))}
          </select>
        </label>
        <div class="pa-form-actions">
          <button type="submit" class="pa-btn" data-testid="invite-create">
            Create invite link
          </button>
        </div>
      </form>
      {link && (
        <p role="status" data-testid="invite-result">
          {mailed?.sent
            ? `We emailed the invite to ${mailed.to}. You can also send them this link (it works once, for 7 days, and is not shown again): `
            : mailed?.error
              ? `The invite mail could not be sent (${mailed.error}). Send this link to them yourself (it works once, for 7 days, and is not shown again): `
              : "Send this link to them (it works once, for 7 days, and is not shown again): "}
          <input readOnly class="pa-input pa-invite-link" aria-label="Invite link" data-testid="invite-link" value={link} onFocus={(e) => e.currentTarget.select()} />
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
                  <button type="button" class="pa-btn-outline pa-btn-sm" aria-label={`Revoke the invite for ${i.email}`} onClick={() => void revoke(i.id)}>
                    Revoke
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
