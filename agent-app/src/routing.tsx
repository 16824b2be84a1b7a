// Routing in the agent dashboard: the live queue, offers (offer mode),
// transfers, the agent's profile (languages, skills, teams, capacity) and,
// for admins and supervisors, agents and site routing settings. The APIs are
// in pkg/service/http_routing.go.

import { useEffect, useState } from "preact/hooks";
import type { AgentClient } from "@parley/shared/agentclient";
import { api, errorMessage as message } from "@parley/shared/http";
import type { ConversationInfo, Frame } from "../../pkg/protocol/protocol";
import { visitorName } from "./visitor";
import { Dialog } from "./dialog";
import { AgentsScreen } from "./agents";
import { lang, t, tn } from "./i18n";

export interface AgentProfile {
  id: string;
  name: string;
  email: string;
  role: string;
  status: string;
  capacity: number;
  languages: string[];
  skills: string[];
  teams: string[];
  routing_status: string;
  load: number;
}

interface QueueEntry {
  conversation: string;
  position: number;
  estimated_wait_seconds: number;
  waiting_seconds: number;
  language?: string;
  skill?: string;
  team?: string;
  priority: number;
  level: string;
  offered_to?: string;
}

interface SiteRouting {
  mode: string;
  offer_timeout_seconds: number;
  max_misses: number;
  relax_after_seconds: number[];
  business_hours: Record<string, string[]>;
  time_zone: string;
  /** The first rule matching the page a conversation starts on sets what it needs. */
  page_rules: { pattern: string; skill?: string; team?: string }[];
  /** What the widget's pre-chat form offers. */
  prechat_choices: { label: string; skill?: string; team?: string }[];
}

/** Entry rules are edited as lines "first | skill | team". */
function entryLines<T extends { skill?: string; team?: string }>(rows: T[], first: (r: T) => string): string {
  return rows.map((r) => [first(r), r.skill ?? "", r.team ?? ""].join(" | ").replace(/( \| )+$/, "")).join("\n");
}

function parseEntryLines(text: string): { first: string; skill: string; team: string }[] {
  return text
    .split("\n")
    .map((l) => l.split("|").map((x) => x.trim()))
    .filter((p) => p[0])
    .map(([first, skill = "", team = ""]) => ({ first, skill, team }));
}

interface Site {
  id: string;
  name: string;
  visitor_calls: boolean;
}

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

function waitText(s: number): string {
  if (s < 0) return "unknown";
  if (s < 60) return `${s}s`;
  return `${Math.round(s / 60)} min`;
}

/** usePoll calls load now and every ms while mounted. */
export function usePoll<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []): [T | null, () => void] {
  const [value, setValue] = useState<T | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () =>
      load().then(
        (v) => live && setValue(v),
        () => undefined,
      );
    void run();
    const t = setInterval(run, ms);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [...deps, tick]);
  return [value, () => setTick((n) => n + 1)];
}

// --- side panel: queue, offers, dialogs ----------------------------------------------

export function RoutingSide({ self, role, client, onOpen }: { self: string; role: string; client: AgentClient; onOpen: (id: string) => void }) {
  const [dialog, setDialog] = useState<"" | "profile" | "agents" | "settings">("");
  const supervisor = role === "admin" || role === "supervisor";
  return (
    <div class="pa-routing">
      <SetAway client={client} />
      <Offers self={self} client={client} onOpen={onOpen} />
      <QueuePanel onOpen={onOpen} />
      <div class="pa-routing-links">
        <button type="button" class="pa-btn-ghost" data-testid="open-profile" onClick={() => setDialog("profile")}>
          {t("side.profile")}
        </button>
        {role === "admin" && (
          <button type="button" class="pa-btn-ghost" data-testid="open-agents" onClick={() => setDialog("agents")}>
            {t("side.agents")}
          </button>
        )}
        {supervisor && (
          <button type="button" class="pa-btn-ghost" data-testid="open-settings" onClick={() => setDialog("settings")}>
            {t("side.routingSettings")}
          </button>
        )}
      </div>
      {dialog && (
        <Dialog title={dialog === "profile" ? t("side.profile") : dialog === "agents" ? t("side.agents") : t("side.routingSettings")} wide={dialog === "agents"} onClose={() => setDialog("")}>
          {dialog === "profile" && <ProfileView />}
          {dialog === "agents" && <AgentsScreen self={self} />}
          {dialog === "settings" && <SettingsForm admin={role === "admin"} />}
        </Dialog>
      )}
    </div>
  );
}

/** SetAway tells the agent when routing set them away (too many missed
 * offers) while their status menu still says online. */
function SetAway({ client }: { client: AgentClient }) {
  const [me, reload] = usePoll(() => api<{ agent: AgentProfile }>("GET", "/api/agents/me").then((r) => r.agent), 10000);
  useEffect(
    () =>
      client.listen((f: Frame) => {
        if (f.type === "offer" && f.ended && f.why === "expired") reload();
      }),
    [client],
  );
  if (!me || me.status !== "away" || client.status === "away") return null;
  return (
    <div class="pa-offers" role="alert" data-testid="away-banner">
      {t("rt.missed")}{" "}
      <button
        type="button"
        class="pa-btn"
        onClick={() => {
          client.setStatus("online");
          setTimeout(reload, 500);
        }}
      >
        {t("rt.back")}
      </button>
    </div>
  );
}

/** Offers lists the conversations offered to this agent (offer mode). */
function Offers({ self, client, onOpen }: { self: string; client: AgentClient; onOpen: (id: string) => void }) {
  const [offers, setOffers] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  useEffect(
    () =>
      client.listen((f: Frame) => {
        if (f.type !== "offer" || f.agent !== self) return;
        setOffers((o) => {
          const next = { ...o };
          if (f.ended) delete next[f.conversation];
          else next[f.conversation] = f.expires_at;
          return next;
        });
      }),
    [client, self],
  );
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const answer = async (conv: string, verb: "accept" | "decline") => {
    setError("");
    try {
      await api("POST", `/api/conversations/${encodeURIComponent(conv)}/${verb}`);
      if (verb === "accept") onOpen(conv);
    } catch (e) {
      setError(message(e));
    }
    setOffers((o) => {
      const next = { ...o };
      delete next[conv];
      return next;
    });
  };
  const ids = Object.keys(offers);
  if (ids.length === 0 && !error) return null;
  return (
    <section class="pa-offers" aria-label={t("rt.offers")}>
      <h2 class="pa-section-title">{t("rt.offered")}</h2>
      {error && (
        <div class="pa-error" role="alert">
          {error}
        </div>
      )}
      {ids.map((id) => {
        const conv = client.conversations.get(id)?.info;
        const left = Math.max(0, Math.round((Date.parse(offers[id]) - Date.now()) / 1000));
        return (
          <div class="pa-offer" key={id} data-testid="offer" data-conversation={id}>
            <span>
              {visitorName(conv, t("rt.aVisitor"))} · {t("vp.seconds", { s: left })}
            </span>
            <button type="button" class="pa-btn" data-testid="offer-accept" onClick={() => void answer(id, "accept")}>
              {t("rt.accept")}
            </button>
            <button type="button" class="pa-btn-outline" data-testid="offer-decline" onClick={() => void answer(id, "decline")}>
              {t("rt.decline")}
            </button>
          </div>
        );
      })}
    </section>
  );
}

/** QueuePanel shows who waits, in order, with the estimated waits. */
function QueuePanel({ onOpen }: { onOpen: (id: string) => void }) {
  const [queue] = usePoll(() => api<{ queue: QueueEntry[] }>("GET", "/api/routing/queue").then((r) => r.queue), 2000);
  return (
    <section class="pa-queue" aria-label={t("side.routingQueue")} data-testid="routing-queue">
      <h2 class="pa-section-title">
        {t("side.waiting")} <span class="pa-count">{queue?.length ?? 0}</span>
      </h2>
      {queue && queue.length > 0 && (
        <ol class="pa-queue-list">
          {queue.map((q) => (
            <li key={q.conversation} data-testid="queue-entry" data-conversation={q.conversation} data-position={q.position}>
              <button type="button" class="pa-link" onClick={() => onOpen(q.conversation)}>
                #{q.position} · waiting {waitText(q.waiting_seconds)} · est. {waitText(q.estimated_wait_seconds)}
              </button>
              <span class="pa-muted">
                {[q.language, q.team, q.skill].filter(Boolean).join(" · ")}
                {q.level !== "exact" ? ` · relaxed: ${q.level}` : ""}
                {q.offered_to ? " · offered" : ""}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

// --- profile and agents ----------------------------------------------------------------

function ProfileView() {
  const [me, setMe] = useState<AgentProfile | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api<{ agent: AgentProfile }>("GET", "/api/agents/me").then(
      (r) => setMe(r.agent),
      (e) => setError(message(e)),
    );
  }, []);
  if (error) return <div class="pa-error">{error}</div>;
  if (!me) return <div class="pa-muted">{t("common.loading")}</div>;
  return (
    <dl class="pa-profile" data-testid="profile">
      <dt>{t("vp.name")}</dt>
      <dd>{me.name}</dd>
      <dt>{t("rt.role")}</dt>
      <dd>{me.role}</dd>
      <dt>{t("rt.capacity")}</dt>
      <dd data-testid="profile-capacity">{tn("rt.atOnce", me.capacity)}</dd>
      <dt>{t("rt.languages")}</dt>
      <dd data-testid="profile-languages">{me.languages.join(", ") || t("rt.any")}</dd>
      <dt>{t("start.skills")}</dt>
      <dd>{me.skills.join(", ") || "—"}</dd>
      <dt>{t("rt.teams")}</dt>
      <dd>{me.teams.join(", ") || "—"}</dd>
      <dt>{t("rt.now")}</dt>
      <dd>
        {me.routing_status}, {t("rt.loadOf", { load: me.load, capacity: me.capacity })}
      </dd>
    </dl>
  );
}

// --- site routing settings ---------------------------------------------------------------

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** weekday is the name of DAYS[i] in the reader's language (1 January
 * 2024 was a Monday). */
const weekday = (i: number) => new Date(Date.UTC(2024, 0, 1 + i)).toLocaleDateString(lang, { weekday: "long", timeZone: "UTC" });

/** VisitorCallsSwitch sets whether a site's visitors may start voice
 * calls (admins only; the agent can always call, and a visitor can always
 * share their screen). It saves on change, apart from the routing form. */
function VisitorCallsSwitch({ site, on, onSaved }: { site: string; on: boolean; onSaved: (on: boolean) => void }) {
  const [note, setNote] = useState("");
  const toggle = async (e: Event) => {
    const box = e.currentTarget as HTMLInputElement;
    const want = box.checked;
    setNote("");
    try {
      const x = await api<{ visitor_calls: boolean }>("PUT", `/api/sites/${encodeURIComponent(site)}/calls`, { visitor_calls: want });
      onSaved(x.visitor_calls);
      setNote(t("rtd.saved"));
    } catch (err) {
      box.checked = !want; // not saved: show what the server has
      setNote(message(err));
    }
  };
  return (
    <div class="pa-form-grid" data-testid="visitor-calls-setting">
      <label>
        <input type="checkbox" data-testid="visitor-calls" checked={on} onChange={toggle} /> {t("rtd.visitorCalls")}
      </label>
      {note && (
        <div role="status" data-testid="visitor-calls-note">
          {note}
        </div>
      )}
    </div>
  );
}

/** SettingsForm edits a site's routing and business hours: the one given
 * (from the Sites screen, sites.tsx), else any, chosen in the form. */
export function SettingsForm({ admin, site: only }: { admin: boolean; site?: string }) {
  const [sites, setSites] = useState<Site[]>([]);
  const [site, setSite] = useState(only ?? "");
  const [r, setR] = useState<SiteRouting | null>(null);
  const [hours, setHours] = useState<Record<string, string>>({});
  const [relax, setRelax] = useState("");
  const [pages, setPages] = useState("");
  const [choices, setChoices] = useState("");
  const [note, setNote] = useState("");
  useEffect(() => {
    api<{ sites: Site[] }>("GET", "/api/sites").then(
      (x) => {
        setSites(x.sites);
        if (!only && x.sites[0]) setSite(x.sites[0].id);
      },
      (e) => setNote(message(e)),
    );
  }, []);
  useEffect(() => {
    if (!site) return;
    api<{ routing: SiteRouting }>("GET", `/api/sites/${encodeURIComponent(site)}/routing`).then(
      (x) => {
        setR(x.routing);
        setRelax(x.routing.relax_after_seconds.join(", "));
        setPages(entryLines(x.routing.page_rules ?? [], (r) => r.pattern));
        setChoices(entryLines(x.routing.prechat_choices ?? [], (r) => r.label));
        const h: Record<string, string> = {};
        for (const d of DAYS) h[d] = (x.routing.business_hours[d] ?? []).join(", ");
        setHours(h);
      },
      (e) => setNote(message(e)),
    );
  }, [site]);
  if (!r) return <div class="pa-muted">{note || t("common.loading")}</div>;
  const current = sites.find((s) => s.id === site);
  const submit = async (e: Event) => {
    e.preventDefault();
    setNote("");
    const business_hours: Record<string, string[]> = {};
    for (const d of DAYS) if (list(hours[d] ?? "").length) business_hours[d] = list(hours[d]);
    try {
      const x = await api<{ routing: SiteRouting }>("PATCH", `/api/sites/${encodeURIComponent(site)}/routing`, {
        ...r,
        relax_after_seconds: list(relax).map(Number),
        business_hours,
        page_rules: parseEntryLines(pages).map(({ first, skill, team }) => ({ pattern: first, skill, team })),
        prechat_choices: parseEntryLines(choices).map(({ first, skill, team }) => ({ label: first, skill, team })),
      });
      setR(x.routing);
      setRelax(x.routing.relax_after_seconds.join(", "));
      setNote(t("rtd.saved"));
    } catch (err) {
      setNote(message(err));
    }
  };
  return (
    <>
      {admin && current && !only && (
        <VisitorCallsSwitch
          site={site}
          on={current.visitor_calls}
          onSaved={(on) => setSites(sites.map((s) => (s.id === site ? { ...s, visitor_calls: on } : s)))}
        />
      )}
      <form class="pa-form-grid" onSubmit={submit} data-testid="routing-settings">
        {only && current && <h3>{t("rtd.title", { site: current.name })}</h3>}
        {sites.length > 1 && !only && (
          <label>
            {t("rep.site")}
            <select value={site} onChange={(e) => setSite(e.currentTarget.value)}>
              {sites.map((s) => (
                <option value={s.id}>{s.name}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t("rtd.mode")}
          <select data-testid="routing-mode" value={r.mode} onChange={(e) => setR({ ...r, mode: e.currentTarget.value })}>
            <option value="auto">{t("rtd.auto")}</option>
            <option value="offer">{t("rtd.offer")}</option>
          </select>
        </label>
        <label>
          {t("rtd.offerTimeout")}
          <input type="number" min={0} value={r.offer_timeout_seconds} onInput={(e) => setR({ ...r, offer_timeout_seconds: Number(e.currentTarget.value) })} />
        </label>
        <label>
          {t("rtd.maxMisses")}
          <input type="number" min={0} value={r.max_misses} onInput={(e) => setR({ ...r, max_misses: Number(e.currentTarget.value) })} />
        </label>
        <label>
          {t("rtd.relax")}
          <input placeholder={t("rtd.relaxEmpty")} value={relax} onInput={(e) => setRelax(e.currentTarget.value)} />
        </label>
        <label>
          {t("rep.timeZone")}
          <input placeholder="Europe/Paris" data-testid="routing-tz" value={r.time_zone} onInput={(e) => setR({ ...r, time_zone: e.currentTarget.value })} />
        </label>
        <fieldset>
          <legend>{t("rtd.hours")}</legend>
          {DAYS.map((d, i) => (
            <label key={d}>
              {weekday(i)}
              <input placeholder="09:00-17:00" value={hours[d] ?? ""} onInput={(e) => setHours({ ...hours, [d]: e.currentTarget.value })} />
            </label>
          ))}
        </fieldset>
        <label>
          {t("rtd.pageRules")}
          <textarea
            rows={3}
            data-testid="routing-page-rules"
            placeholder={"/pricing* | sales\n/docs/* | support"}
            value={pages}
            onInput={(e) => setPages(e.currentTarget.value)}
          />
        </label>
        <label>
          {t("rtd.prechat")}
          <textarea
            rows={3}
            data-testid="routing-prechat-choices"
            placeholder={t("rtd.prechatExample")}
            value={choices}
            onInput={(e) => setChoices(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="pa-btn" data-testid="routing-save">
          {t("common.save")}
        </button>
        {note && (
          <div role="status" data-testid="routing-note">
            {note}
          </div>
        )}
      </form>
    </>
  );
}

// --- conversation: details and transfer --------------------------------------------------

/** languageName is a language tag as people read it ("fr-FR" → "French
 * (France)"), or the tag itself when the browser does not know it. */
function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames([lang], { type: "language" }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** ConversationRouting shows what routing knows of a conversation (the
 * offline contact, the latest transfer note, why its agent has it, in a
 * sentence) and lets an agent set what it needs: language, team, skill,
 * priority. Supervisors and admins may also open the routing log (the
 * engine's own terms: levels, loads, idle times). */
export function ConversationRouting({ info, self, role }: { info: ConversationInfo; self: string; role: string }) {
  const [edit, setEdit] = useState(false);
  const [f, setF] = useState({ language: "", team: "", skill: "", priority: "0" });
  const [error, setError] = useState("");
  const [why, setWhy] = useState<string[] | null>(null);
  const showWhy = async () => {
    try {
      const x = await api<{ routing: { reasons: string[] } }>("GET", `/api/conversations/${encodeURIComponent(info.id)}/routing`);
      setWhy(x.routing.reasons);
    } catch (err) {
      setError(message(err));
    }
  };
  const bits = [info.language && languageName(info.language), info.team && t("rt.team", { team: info.team }), info.skill && t("rt.skill", { skill: info.skill }), info.priority ? t("rt.priority", { n: info.priority }) : ""].filter(Boolean);
  const open = () => {
    setF({ language: info.language ?? "", team: info.team ?? "", skill: info.skill ?? "", priority: String(info.priority ?? 0) });
    setError("");
    setEdit(true);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await api("PATCH", `/api/conversations/${encodeURIComponent(info.id)}/routing`, {
        language: f.language.trim(),
        team: f.team.trim(),
        skill: f.skill.trim(),
        priority: Number(f.priority) || 0,
      });
      setEdit(false);
    } catch (err) {
      setError(message(err));
    }
  };
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  // Who may change it is who may act in it (see ConversationView).
  const mayChange =
    info.status !== "closed" &&
    (role === "admin" || role === "supervisor" || info.status !== "open" || !info.agent_id || info.agent_id === self);
  return (
    <div class="pa-conv-routing" data-testid="conversation-routing">
      {info.contact_email && (
        <div data-testid="offline-contact">
          {t("rt.offlineFrom", { name: info.contact_name ?? "", email: info.contact_email ?? "" })}
        </div>
      )}
      {(info.visitor_phone || info.visitor_fields) && (
        <div data-testid="visitor-profile">
          {[info.visitor_phone && t("rt.phone", { phone: info.visitor_phone }), ...Object.entries(info.visitor_fields ?? {}).map(([k, v]) => `${k}: ${v}`)].filter(Boolean).join(" · ")}
        </div>
      )}
      {info.csat_rating ? (
        <div data-testid="csat" data-rating={info.csat_rating}>
          {t("rt.rating")} <strong aria-label={t("rt.ratingOf", { n: info.csat_rating })}>{"★".repeat(info.csat_rating) + "☆".repeat(5 - info.csat_rating)}</strong>
          {info.csat_comment && <> — “{info.csat_comment}”</>}
        </div>
      ) : null}
      {info.transfer_note && <div data-testid="transfer-note">{t("rt.transferNote", { note: info.transfer_note })}</div>}
      {info.status === "open" && info.routing_summary && (
        <div data-testid="routing-summary">
          {info.agent_id === self ? t("rt.assignedYou") : t("conv.assignedTo", { name: info.agent_name || t("conv.anotherAgent") })}: {info.routing_summary}
        </div>
      )}
      <div class="pa-muted">
        {bits.join(" · ") || t("filters.anyAgent")}{" "}
        {mayChange && !edit && (
          <button type="button" class="pa-link" data-testid="edit-needs" onClick={open}>
            {t("rt.change")}
          </button>
        )}{" "}
        {(role === "admin" || role === "supervisor") && (
          <button type="button" class="pa-link" data-testid="why-here" onClick={() => (why ? setWhy(null) : void showWhy())}>
            {why ? t("rt.hideLog") : t("rt.log")}
          </button>
        )}
      </div>
      {why && (
        <ol class="pa-muted" data-testid="routing-reasons" title={t("rt.logTitle")}>
          {why.length ? why.map((r) => <li>{r}</li>) : <li>{t("rt.noLog")}</li>}
        </ol>
      )}
      {error && !edit && (
        <div class="pa-error" role="alert">
          {error}
        </div>
      )}
      {edit && (
        <form class="pa-form-grid" onSubmit={save} data-testid="needs-form">
          <label>
            Language <input placeholder="fr" value={f.language} onInput={set("language")} />
          </label>
          <label>
            Team <input placeholder="billing" value={f.team} onInput={set("team")} />
          </label>
          <label>
            Skill <input value={f.skill} onInput={set("skill")} />
          </label>
          <label>
            Priority <input type="number" min={0} max={100} value={f.priority} onInput={set("priority")} />
          </label>
          <button type="submit" class="pa-btn">
            Save
          </button>
          <button type="button" class="pa-btn-ghost" onClick={() => setEdit(false)}>
            Cancel
          </button>
          {error && (
            <div class="pa-error" role="alert">
              {error}
            </div>
          )}
        </form>
      )}
    </div>
  );
}

/** TransferButton hands the conversation to another agent or a team. */
export function TransferButton({ info, self }: { info: ConversationInfo; self: string }) {
  const [open, setOpen] = useState(false);
  const [agents, setAgents] = useState<AgentProfile[]>([]);
  const [target, setTarget] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    if (!open) return;
    api<{ agents: AgentProfile[] }>("GET", "/api/agents").then(
      (r) => setAgents(r.agents.filter((a) => a.id !== info.agent_id)),
      (e) => setError(message(e)),
    );
  }, [open]);
  if (info.status !== "open") return null;
  const teams = [...new Set(agents.flatMap((a) => a.teams))];
  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    const [kind, id] = target.split(":", 2);
    try {
      await api("POST", `/api/conversations/${encodeURIComponent(info.id)}/transfer`, {
        to_agent: kind === "agent" ? id : undefined,
        to_team: kind === "team" ? id : undefined,
        note,
      });
      setOpen(false);
      setNote("");
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <>
      <button type="button" class="pa-btn-outline" data-testid="transfer" onClick={() => setOpen(!open)}>
        {info.agent_id === self ? t("rt.transfer") : t("rt.reassign")}
      </button>
      {open && (
        <Dialog title={info.agent_id === self ? t("keys.transfer") : t("rt.reassignTitle")} onClose={() => setOpen(false)}>
          <form class="pa-form-stack" onSubmit={submit} data-testid="transfer-form">
            <label>
              {t("rt.to")}
              <select class="pa-select" data-testid="transfer-target" required value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
                <option value="">{t("rt.choose")}</option>
                {agents.map((a) => (
                  <option value={"agent:" + a.id} disabled={a.routing_status !== "online"}>
                    {a.name} ({a.routing_status}, {a.load}/{a.capacity})
                  </option>
                ))}
                {teams.map((team) => (
                  <option value={"team:" + team}>{t("rt.teamOption", { team })}</option>
                ))}
              </select>
            </label>
            <label>
              {t("rt.noteNext")}
              <textarea class="pa-input" data-testid="transfer-note-input" rows={2} maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
            </label>
            {error && (
              <div class="pa-error" role="alert" data-testid="transfer-error">
                {error}
              </div>
            )}
            <div class="pa-form-actions">
              <button type="submit" class="pa-btn" data-testid="transfer-submit">
                {t("rt.transfer")}
              </button>
              <button type="button" class="pa-btn-outline" onClick={() => setOpen(false)}>
                {t("common.cancel")}
              </button>
            </div>
          </form>
        </Dialog>
      )}
    </>
  );
}
