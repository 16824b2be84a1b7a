// The agent dashboard (/app/): sign-in, then an inbox of the agent's open
// conversations and the workspace queue beside the selected conversation.
// Live state comes from the same client the widget uses.

import { Fragment, render } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ChatItem, exposeDebug } from "@parley/shared/client";
import { AgentClient, firstSeq } from "@parley/shared/agentclient";
import { WebRTCLink } from "@parley/shared/rtc";
import { CallManager } from "@parley/shared/call";
import { CallControls, IncomingCalls } from "./call";
import type { ConversationLog } from "@parley/shared/conversation";
import { fileSize, initials } from "@parley/shared/format";
import { applyLanguage, errorText, lang, remember, storedChoice, t, time, tn } from "./i18n";
import { LanguagePicker } from "./language";
import { ApiError, api, liveURL } from "@parley/shared/http";
import type { Attachment, Author, ConversationInfo, MessageFrame } from "../../pkg/protocol/protocol";
import { ConversationRouting, RoutingSide, TransferButton } from "./routing";
import { INVITE_PATH, InviteAccept, SecuritySide } from "./security";
import { Composer, clearDrafts } from "./composer";
import { PendingUploads, useUploads } from "./uploads";
import { CannedButton } from "./canned";
import { NotifyButton, useNotifications } from "./notify";
import { Shortcuts } from "./shortcuts";
import { Mentions, NoteItem, notesAfter, useNotes } from "./notes";
import type { NoteInfo } from "../../pkg/protocol/protocol";
import type { TwoFactor } from "./twofactor";
import { visitorEmail, visitorName } from "./visitor";
import { InboxViews, StateActions, StatePill, TagEditor } from "./inbox";
import { VisitorPanel } from "./visitorpanel";
import { SearchBox } from "./search";
import { ContactsButton, ContactsPage } from "./contacts";
import { chunk, firstViewDone } from "./lazy";

// What the first view does not show loads on its own (lazy.tsx): the
// sidebar's screens once the inbox is up, a page when it opens.
const loading = () => <div class="pa-center pa-muted">{t("common.loading")}</div>;
const reports = chunk(() => import("./reports"));
const ReportsButton = reports("ReportsButton", "later");
const ReportsPage = reports("ReportsPage", "now", loading);
const supervision = chunk(() => import("./supervision"));
const SupervisionButton = supervision("SupervisionButton", "later");
const SupervisionPage = supervision("SupervisionPage", "now", loading);
const SitesButton = chunk(() => import("./sites"))("SitesButton", "later");
const email = chunk(() => import("./email"));
const EmailButton = email("EmailButton", "later");
const TranscriptButton = email("TranscriptButton", "now");
const integrations = chunk(() => import("./integrations"));
const TokensButton = integrations("TokensButton", "later");
const WebhooksButton = integrations("WebhooksButton", "later");
const PrivacyButton = chunk(() => import("./privacy"))("PrivacyButton", "later");
const KnowledgeButton = chunk(() => import("./knowledge"))("KnowledgeButton", "later");
// The first-run checklist is an admin's until dismissed; everyone else
// sees what it wraps, shown meanwhile.
const FirstRun = chunk(() => import("./firstrun"))("FirstRun", "now", (props) => props.children);
const twoFactor = chunk(() => import("./twofactor"));
const TwoFactorButton = twoFactor("TwoFactorButton", "later");
const TwoFactorPanel = twoFactor("TwoFactorPanel", "now", loading);

interface Agent {
  id: string;
  name: string;
  email: string;
  role: string;
  status: string;
  /** locale is the dashboard language the agent chose (absent: the browser's). */
  locale?: string;
}

interface Me {
  agent: Agent;
  workspace: { id: string; name?: string; require_2fa_for_admins?: boolean };
  two_factor: TwoFactor;
}

type Phase = { kind: "loading" } | { kind: "offline"; message: string } | { kind: "signed-out" } | { kind: "signed-in"; me: Me };

function App() {
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });
  // A new language redraws everything (every text is looked up at render).
  const [, setLanguageDrawn] = useState(0);
  const [inviteToken, setInviteToken] = useState(() =>
    location.pathname.startsWith(INVITE_PATH) ? location.pathname.slice(INVITE_PATH.length) : "",
  );

  // The language is known before anything shows: the agent's setting once
  // signed in, the one last chosen in this browser before.
  // path: after an invite signed the agent in, a URL of its own. The page
  // preloads /api/me (index.html) and the invite view never reads it, so a
  // plain /api/me would be answered by that preload: the 401 from before.
  const loadMe = async (path = "/api/me") => {
    try {
      const me = await api<Me>("GET", path);
      remember(me.agent.locale ?? "");
      await applyLanguage(me.agent.locale);
      setPhase({ kind: "signed-in", me });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        await applyLanguage(storedChoice());
        setPhase({ kind: "signed-out" });
      } else {
        await applyLanguage(storedChoice());
        setPhase({ kind: "offline", message: errorText(e) });
      }
    }
  };

  useEffect(() => {
    if (!inviteToken) void loadMe();
  }, []);

  if (inviteToken) {
    return (
      <InviteAccept
        token={inviteToken}
        onSignedIn={async () => {
          setInviteToken("");
          await loadMe("/api/me?invited");
        }}
      />
    );
  }
  switch (phase.kind) {
    case "loading":
      return <div class="pa-center pa-muted">{t("common.loading")}</div>;
    case "offline":
      return (
        <div class="pa-center">
          <div class="pa-card">
            <p role="alert">{phase.message}</p>
            <button type="button" class="pa-btn" onClick={() => void loadMe()}>
              {t("common.tryAgain")}
            </button>
          </div>
        </div>
      );
    case "signed-out":
      return <Login onSignedIn={() => loadMe()} />;
    case "signed-in":
      // An admin of a workspace requiring two-factor sign-in who has not
      // set it up may do nothing else (the server refuses the rest).
      if (phase.me.two_factor.enrolment_required) {
        return <EnrolFirst me={phase.me} onChanged={() => void loadMe()} onSignedOut={() => setPhase({ kind: "signed-out" })} />;
      }
      return (
        <Dashboard
          me={phase.me}
          onMeChanged={() => void loadMe()}
          onSignedOut={() => setPhase({ kind: "signed-out" })}
          onLanguage={() => setLanguageDrawn((n) => n + 1)}
        />
      );
  }
}

function EnrolFirst({ me, onChanged, onSignedOut }: { me: Me; onChanged: () => void; onSignedOut: () => void }) {
  const signOut = async () => {
    try {
      await api("POST", "/api/auth/logout");
    } catch {
      // Signed out locally either way.
    }
    onSignedOut();
  };
  return (
    <div class="pa-center pa-login-bg">
      <div class="pa-card pa-login" role="region" aria-labelledby="enrol-title">
        <h1 id="enrol-title">{t("enrol.title")}</h1>
        <TwoFactorPanel twoFactor={me.two_factor} role={me.agent.role} required onChanged={onChanged} />
        <button type="button" class="pa-link" onClick={() => void signOut()}>
          {t("common.signOut")}
        </button>
      </div>
    </div>
  );
}

function Login({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  // One email may be an agent of several workspaces: the server then asks
  // which, and the form shows the choice.
  const [workspaces, setWorkspaces] = useState<{ id: string; name: string }[]>([]);
  const [workspace, setWorkspace] = useState("");
  // With two-factor sign-in the server answers totp_required to a right
  // password: the form then asks for the code (or a recovery code).
  const [second, setSecond] = useState<"" | "totp" | "recovery_code">("");
  const [code, setCode] = useState("");

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await api("POST", "/api/auth/login", {
        email: email.trim(),
        password,
        workspace: workspace || undefined,
        ...(second && code.trim() ? { [second]: code.trim() } : {}),
      });
      await onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.code === "totp_required") {
        setSecond("totp");
        setBusy(false);
        return;
      }
      if (err instanceof ApiError && err.code === "totp_invalid") {
        setError(errorText(err));
        setCode("");
        setBusy(false);
        return;
      }
      if (err instanceof ApiError && err.code === "workspace_required") {
        const list = (err.body as { workspaces?: { id: string; name: string }[] } | null)?.workspaces ?? [];
        setWorkspaces(list);
        setWorkspace(list[0]?.id ?? "");
        setError(t("login.chooseWorkspace"));
        setBusy(false);
        return;
      }
      if (err instanceof ApiError && err.status === 401) setError(t("login.wrong"));
      else setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <div class="pa-center pa-login-bg">
      <form class="pa-card pa-login" onSubmit={submit} aria-labelledby="login-title">
        <div class="pa-brand pa-brand-lg">
          <span class="pa-logo" aria-hidden="true">
            P
          </span>
          Parley
        </div>
        <h1 id="login-title">{t("login.title")}</h1>
        <label>
          {t("login.email")}
          <input
            type="email"
            data-testid="email"
            autocomplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </label>
        <label>
          {t("login.password")}
          <input
            type="password"
            data-testid="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {workspaces.length > 0 && (
          <label>
            {t("login.workspace")}
            <select value={workspace} onChange={(e) => setWorkspace(e.currentTarget.value)}>
              {workspaces.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
          </label>
        )}
        {second && (
          <>
            <label>
              {second === "totp" ? t("login.totp") : t("login.recovery")}
              <input
                data-testid="login-code"
                autocomplete="one-time-code"
                inputMode={second === "totp" ? "numeric" : "text"}
                required
                autoFocus
                value={code}
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            </label>
            <button
              type="button"
              class="pa-link"
              onClick={() => {
                setSecond(second === "totp" ? "recovery_code" : "totp");
                setCode("");
              }}
            >
              {second === "totp" ? t("login.useRecovery") : t("login.useApp")}
            </button>
          </>
        )}
        {error && (
          <div class="pa-error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <button type="submit" class="pa-btn pa-btn-block" data-testid="login" disabled={busy}>
          {busy ? t("login.signingIn") : t("login.submit")}
        </button>
      </form>
    </div>
  );
}

/** useClientVersion re-renders on the client's changes, at most once per
 * RENDER_EVERY_MS: every message frame is a change, and a resume of a few
 * thousand messages rendered once per frame held the first view for
 * seconds. */
function useClientVersion(client: AgentClient | null): number {
  const [version, setVersion] = useState(0);
  // Subscribed with the connection's start (Dashboard), so no change is
  // missed before a later effect would have run.
  useLayoutEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = client?.subscribe(() => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setVersion((v) => v + 1);
      }, RENDER_EVERY_MS);
    });
    return () => {
      off?.();
      clearTimeout(timer);
    };
  }, [client]);
  return version;
}

const RENDER_EVERY_MS = 16;

const READ_KEY = "parley:agent:read";

function loadRead(): Record<string, number> {
  try {
    return JSON.parse(localStorage.getItem(READ_KEY) ?? "{}") as Record<string, number>;
  } catch {
    return {};
  }
}

function Dashboard(props: { me: Me; onMeChanged: () => void; onSignedOut: () => void; onLanguage: () => void }) {
  const { me, onMeChanged, onSignedOut, onLanguage } = props;
  const client = useMemo(
    () =>
      new AgentClient(
        {
        role: "agent",
        owner: me.agent.id,
        outboxKey: "parley:agent:outbox",
        url: async (failures) => {
          // Repeated failures may mean the session ended: check, and go
          // back to the sign-in form instead of retrying for ever.
          if (failures >= 3) {
            try {
              await api("GET", "/api/me");
            } catch (e) {
              if (e instanceof ApiError && e.status === 401) {
                setTimeout(onSignedOut, 0);
                throw e;
              }
            }
          }
          return liveURL("/ws/agent");
        },
        },
        // A conversation opens on its newest messages; older ones load as
        // the agent scrolls up (MessageList).
        HISTORY_PAGE,
      ),
    [me.agent.id],
  );
  const [calls, setCalls] = useState<CallManager | null>(null);
  // The live connection opens as the dashboard is drawn, not after it is
  // painted (useEffect): the inbox comes over it, and on a busy machine
  // the first paint came hundreds of milliseconds later.
  useLayoutEffect(() => {
    client.start();
    // Chat moves to a WebRTC data channel when one opens (see rtc.ts).
    const rtc = new WebRTCLink(client);
    rtc.start();
    // Calls use the same link (call.tsx).
    const cm = new CallManager(client, rtc);
    setCalls(cm);
    exposeDebug(client, rtc);
    return () => {
      cm.stop();
      rtc.stop();
      client.stop();
    };
  }, [client]);
  useClientVersion(client);
  // The sidebar's screens load once the live inbox is on screen (lazy.tsx).
  useEffect(() => {
    if (client.state === "online") firstViewDone();
  }, [client.state]);

  const [selected, setSelected] = useState<string | null>(() => new URLSearchParams(location.hash.slice(1)).get("c"));
  // A link to a conversation (#c=<id>) opens it, also in an open dashboard.
  useEffect(() => {
    const on = () => setSelected(new URLSearchParams(location.hash.slice(1)).get("c"));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const [read, setRead] = useState<Record<string, number>>(loadRead);
  const [visible, setVisible] = useState(document.visibilityState === "visible");
  useEffect(() => {
    const on = () => setVisible(document.visibilityState === "visible");
    document.addEventListener("visibilitychange", on);
    return () => document.removeEventListener("visibilitychange", on);
  }, []);

  const self = client.self ?? { kind: "agent", id: me.agent.id, name: me.agent.name };
  const all = [...client.conversations.values()];
  const mine = all
    // A snoozed conversation stays out of sight until its time comes.
    .filter((c) => c.info.status === "open" && c.info.agent_id === self.id && c.info.state !== "snoozed")
    .sort((a, b) => activity(b).localeCompare(activity(a)));
  const queued = all.filter((c) => c.info.status === "queued").sort((a, b) => a.info.created_at.localeCompare(b.info.created_at));
  const offline = all.filter((c) => c.info.status === "offline").sort((a, b) => activity(b).localeCompare(activity(a)));
  const closed = all
    .filter((c) => c.info.status === "closed" && (c.info.agent_id === self.id || c.info.id === selected))
    .sort((a, b) => activity(b).localeCompare(activity(a)))
    .slice(0, 20);
  const current = selected ? client.conversations.get(selected) ?? null : null;

  const unread = (c: ConversationLog) =>
    c.messages().filter((m) => m.seq > (read[c.info.id] ?? 0) && m.author.kind !== "system" && m.author.id !== self.id).length;

  // Reading the selected conversation marks it read.
  const currentSeq = current?.lastContiguous ?? 0;
  useEffect(() => {
    if (!current || !visible || (read[current.info.id] ?? 0) >= currentSeq) return;
    const next = { ...read, [current.info.id]: currentSeq };
    setRead(next);
    try {
      localStorage.setItem(READ_KEY, JSON.stringify(next));
    } catch {
      // Unread counts fall back to this page's memory.
    }
  }, [current?.info.id, currentSeq, visible]);

  const totalUnread = [...mine, ...queued].reduce((n, c) => n + unread(c), 0);
  useEffect(() => {
    document.title = (totalUnread ? `(${totalUnread}) ` : "") + "Parley";
  }, [totalUnread]);

  // The reports page (#reports) takes the inbox's and conversation's place.
  const [reports, setReports] = useState(() => location.hash === "#reports");
  // The supervision page takes the same place.
  const [supervising, setSupervising] = useState(false);
  // And the Contacts screen (#contacts).
  const [contacts, setContacts] = useState(() => location.hash === "#contacts");
  const showContacts = (on: boolean) => {
    setContacts(on);
    setReports(false);
    setSupervising(false);
    history.replaceState(null, "", on ? "#contacts" : selected ? "#c=" + encodeURIComponent(selected) : location.pathname);
  };
  const showReports = (on: boolean) => {
    setReports(on);
    setContacts(false);
    setSupervising(false);
    history.replaceState(null, "", on ? "#reports" : selected ? "#c=" + encodeURIComponent(selected) : location.pathname);
  };
  // focus is the message a search result opened, scrolled to and marked.
  const [focus, setFocus] = useState<{ conversation: string; seq: number } | null>(null);
  const select = (id: string) => {
    setSelected(id);
    setReports(false);
    setContacts(false);
    setSupervising(false);
    setFocus(null);
    history.replaceState(null, "", "#c=" + encodeURIComponent(id));
  };
  const openAt = (info: ConversationInfo, seq: number) => {
    client.adopt(info);
    select(info.id);
    setFocus({ conversation: info.id, seq });
  };  const [notifyPrefs, saveNotifyPrefs] = useNotifications(client, me.agent.id, select);


  const signOut = async () => {
    try {
      await api("POST", "/api/auth/logout");
    } catch {
      // Signed out locally either way; the session cookie expires on its own.
    }
    client.stop();
    clearDrafts();
    onSignedOut();
  };

  const section = (title: string, list: ConversationLog[], empty: string) => (
    <section class="pa-section" aria-label={title}>
      <h2 class="pa-section-title">
        {title} <span class="pa-count">{list.length}</span>
      </h2>
      {list.length === 0 ? (
        <p class="pa-empty-line">{empty}</p>
      ) : (
        <ul class="pa-list">
          {list.map((c) => (
            <InboxItem key={c.info.id} conv={c} self={self} unread={unread(c)} selected={c.info.id === selected} onSelect={select} />
          ))}
        </ul>
      )}
    </section>
  );

  return (
    <div class="pa">
      <aside class="pa-side" aria-label={t("side.account")}>
        <div class="pa-brand">
          <span class="pa-logo" aria-hidden="true">
            P
          </span>
          Parley
        </div>
        {me.workspace.name && <div class="pa-workspace">{me.workspace.name}</div>}
        <div class="pa-me">
          <span class={"pa-avatar pa-avatar-" + (client.status || me.agent.status)} aria-hidden="true">
            {initials(me.agent.name)}
          </span>
          <div class="pa-me-text">
            <div class="pa-me-name" data-testid="agent-self">
              {me.agent.name}
            </div>
            <div class="pa-me-email">{me.agent.email}</div>
          </div>
        </div>
        <label class="pa-field">
          {t("side.status")}
          <select
            data-testid="status"
            value={client.status === "away" ? "away" : "online"}
            onChange={(e) => client.setStatus(e.currentTarget.value)}
          >
            <option value="online">{t("status.online")}</option>
            <option value="away">{t("status.away")}</option>
          </select>
        </label>
        <LanguagePicker onChanged={onLanguage} />
        <RoutingSide self={self.id} role={me.agent.role} client={client} onOpen={select} />
        {(me.agent.role === "admin" || me.agent.role === "supervisor") && (
          <div class="pa-routing-links">
            <ReportsButton onOpen={() => showReports(true)} />
            <SupervisionButton
              onOpen={() => {
                showReports(false);
                setSupervising(true);
              }}
            />
            {me.agent.role === "admin" && (
              <>
                <SitesButton />
                <EmailButton />
                <TokensButton />
                <WebhooksButton />
                <PrivacyButton />
              </>
            )}
            <KnowledgeButton role={me.agent.role} />
          </div>
        )}
        <div class="pa-routing-links">
          <ContactsButton onOpen={() => showContacts(true)} />
          <CannedButton role={me.agent.role} />
          <Mentions client={client} self={me.agent.id} onOpen={select} />
          <NotifyButton prefs={notifyPrefs} save={saveNotifyPrefs} />
          <Shortcuts />
        </div>
        <div class="pa-routing-links">
          <TwoFactorButton
            twoFactor={me.two_factor}
            role={me.agent.role}
            required={!!me.workspace.require_2fa_for_admins}
            onChanged={onMeChanged}
          />
        </div>
        <SecuritySide
          role={me.agent.role}
          onSignedOut={() => {
            client.stop();
            onSignedOut();
          }}
        />
        <div class="pa-side-foot">
          <ConnState client={client} />
          <button type="button" class="pa-btn-ghost" data-testid="logout" onClick={() => void signOut()}>
            {t("common.signOut")}
          </button>
        </div>
      </aside>
      {reports ? (
        <ReportsPage onClose={() => showReports(false)} />
      ) : contacts ? (
        <ContactsPage
          role={me.agent.role}
          onClose={() => showContacts(false)}
          onOpen={(info) => {
            client.adopt(info);
            select(info.id);
          }}
        />
      ) : supervising ? (
        <SupervisionPage onClose={() => setSupervising(false)} onOpen={(info) => {
          client.adopt(info);
          select(info.id);
        }} />
      ) : (
        <>
        <nav class="pa-inbox" aria-label={t("inbox.title")}>
          <div class="pa-inbox-head">
            <h1>{t("inbox.title")}</h1>
            <SearchBox onOpen={openAt} />
          </div>
          <InboxViews role={me.agent.role} client={client} selected={selected} onSelect={select}>
            {section(t("inbox.mine"), mine, t("inbox.mineEmpty"))}
            {section(t("inbox.queue"), queued, t("inbox.queueEmpty"))}
            {offline.length > 0 && section(t("inbox.offline"), offline, "")}
            {closed.length > 0 && section(t("inbox.closed"), closed, "")}
          </InboxViews>
        </nav>
        <main class="pa-main">
          {client.state !== "online" && (
            <div class="pa-banner" role="status">
              {client.state === "reconnecting" ? t("banner.lost") : t("conn.connecting")}
            </div>
          )}
          {client.lastError && (
            <div class="pa-toast" role="alert" data-testid="error">
              <span>{errorText(client.lastError)}</span>
              <button type="button" class="pa-link" onClick={() => client.clearError()}>
                {t("common.dismiss")}
              </button>
            </div>
          )}
          {calls && <IncomingCalls calls={calls} current={current?.info.id ?? null} onOpen={select} />}
          {current ? (
            <div class="pa-conv-row">
              <ConversationView
                key={current.info.id}
                client={client}
                conv={current}
                self={self}
                role={me.agent.role}
                calls={calls}
                focusSeq={focus?.conversation === current.info.id ? focus.seq : 0}
              />
              <VisitorPanel
                info={current.info}
                onOpen={(c) => {
                  client.adopt(c);
                  select(c.id);
                }}
              />
            </div>
          ) : (
            <FirstRun agent={me.agent.id} role={me.agent.role} client={client}>
              <div class="pa-center pa-muted">
                <div class="pa-empty">
                  <strong>{t("main.noneTitle")}</strong>
                  <span>{t("main.noneText")}</span>
                </div>
              </div>
            </FirstRun>
          )}
        </main>
        </>
      )}
    </div>
  );
}

function activity(c: ConversationLog): string {
  return c.last()?.sent_at ?? c.info.updated_at ?? c.info.created_at;
}

function ConnState({ client }: { client: AgentClient }) {
  const state = client.state;
  const label = state === "online" ? t("conn.online") : state === "reconnecting" ? t("conn.reconnecting") : t("conn.connecting");
  return (
    <span class={"pa-conn pa-conn-" + state} data-testid="conn-state" data-state={state} data-transport={client.transportKind}>
      <span class="pa-conn-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

function InboxItem(props: { conv: ConversationLog; self: Author; unread: number; selected: boolean; onSelect: (id: string) => void }) {
  const { conv, self, unread, selected, onSelect } = props;
  const info = conv.info;
  // The preview is the last thing a person said; "Admin joined the chat"
  // only when nobody has said anything yet.
  const all = conv.messages();
  let last = all[all.length - 1];
  for (let i = all.length - 1; i >= 0; i--) {
    if (all[i].author.kind !== "system") {
      last = all[i];
      break;
    }
  }
  const own = last && last.author.kind === "agent" && last.author.id === self.id;
  const preview = last ? (own ? t("inbox.youPrefix", { text: last.body }) : last.body) : info.last_body ?? "";
  const name = visitorName(info);
  return (
    <li>
      <button
        type="button"
        class={"pa-item" + (selected ? " pa-item-selected" : "") + (unread ? " pa-item-unread" : "")}
        data-testid="inbox-item"
        data-conversation={info.id}
        data-status={info.status}
        aria-current={selected ? "true" : undefined}
        onClick={() => onSelect(info.id)}
      >
        <span class="pa-avatar pa-avatar-visitor" aria-hidden="true">
          {initials(name)}
        </span>
        <span class="pa-item-body">
          <span class="pa-item-top">
            <span class="pa-item-name" dir="auto">{name}</span>
            <span class="pa-item-time">{time(activity(conv))}</span>
          </span>
          <span class="pa-item-bottom">
            <span class="pa-item-preview" dir="auto">{preview || t("common.noMessagesYet")}</span>
            {unread > 0 && (
              <span class="pa-badge" data-testid="unread" aria-label={tn("inbox.unread", unread)}>
                {unread}
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
}

const statusLabel = (s: string): string =>
  s === "queued" ? t("conv.status.queued") : s === "open" ? t("conv.status.open") : s === "closed" ? t("conv.status.closed") : s === "offline" ? t("conv.status.offline") : s;

function ConversationView(props: {
  client: AgentClient;
  conv: ConversationLog;
  self: Author;
  role: string;
  calls: CallManager | null;
  focusSeq: number;
}) {
  const { client, conv, self, role, calls } = props;
  const info = conv.info;
  const items = client.items(info.id);
  const typing = client.typingIn(info.id);
  const name = visitorName(info);
  const email = visitorEmail(info);
  // The server's rule (conversation.Participant.owns): answering a queued
  // conversation claims it (whoever replies first); an open one is its
  // agent's, and a supervisor or admin may step in; anyone else reads it.
  const supervisor = role === "admin" || role === "supervisor";
  const owned = info.status === "queued" || info.status === "offline" || (info.status === "open" && (!info.agent_id || info.agent_id === self.id));
  const canAct = info.status !== "closed" && (owned || supervisor);
  const owner = info.agent_name || t("conv.anotherAgent");
  const notes = useNotes(client, info.id);
  const queue = useUploads(client);
  const attach = canAct ? (files: File[]) => files.forEach((f) => queue.add(info.id, f)) : undefined;
  const [dropping, setDropping] = useState(false);
  return (
    <section
      class={"pa-conv" + (dropping ? " pa-conv-drop" : "")}
      aria-label={t("conv.label", { name })}
      // Files dropped anywhere on the conversation are sent to the visitor.
      onDragOver={(e) => {
        if (!attach || !e.dataTransfer?.types.includes("Files")) return;
        e.preventDefault();
        setDropping(true);
      }}
      onDragLeave={(e) => !e.currentTarget.contains(e.relatedTarget as Node | null) && setDropping(false)}
      onDrop={(e) => {
        setDropping(false);
        if (!attach || !e.dataTransfer?.files.length) return;
        e.preventDefault();
        attach([...e.dataTransfer.files]);
      }}
    >
      <header class="pa-conv-head">
        <span class="pa-avatar pa-avatar-visitor" aria-hidden="true">
          {initials(name)}
        </span>
        <div class="pa-conv-title">
          <h2 data-testid="conversation-title" dir="auto">{name}</h2>
          <div class="pa-conv-sub">
            {email && (
              <a href={"mailto:" + email} data-testid="visitor-email">
                {email}
              </a>
            )}
            <span class={"pa-pill pa-pill-" + info.status} data-testid="conversation-status">
              {statusLabel(info.status)}
            </span>
            {info.status !== "closed" && <StatePill info={info} />}
            {info.status !== "closed" && <VisitorPresence info={info} />}
            {info.agent_name && info.agent_id !== self.id && <span>{t("conv.assignedTo", { name: info.agent_name })}</span>}
            <span>{t("conv.started", { time: time(info.created_at) })}</span>
          </div>
        </div>
        {email && <TranscriptButton key={info.id} conversation={info.id} />}
        {canAct && <TransferButton info={info} self={self.id} />}
        {canAct && (
          <button type="button" class="pa-btn-outline" data-testid="close-conversation" onClick={() => client.close(info.id)}>
            {t("conv.close")}
          </button>
        )}
        <StateActions info={info} canAct={canAct} />
      </header>
      <TagEditor conversation={info.id} role={role} />
      <ConversationRouting info={info} self={self.id} role={role} />
      {calls && info.status === "open" && info.agent_id === self.id && <CallControls calls={calls} conversation={info.id} selfID={self.id} />}
      <MessageList
        items={items}
        notes={notes}
        self={self}
        visitor={name}
        typing={typing}
        client={client}
        focusSeq={props.focusSeq}
        info={info}
        firstSeq={firstSeq(conv)}
      />
      {canAct ? (
        <>
          {info.status === "queued" && (
            <div class="pa-conv-hint" data-testid="claim-hint">
              {t("conv.claimHint")}
            </div>
          )}
          {!owned && (
            <div class="pa-conv-hint" data-testid="step-in-hint">
              {t("conv.stepInHint", { owner })}
            </div>
          )}
          <Composer
            agent={self.id}
            conversation={info.id}
            canReply
            fillWith={{ visitorName: name, visitorEmail: email ?? "", agentName: self.name }}
            onSend={(body) => client.send(info.id, body)}
            onTyping={(text) => client.noteTyping(info.id, text)}
            onFiles={attach}
          />
        </>
      ) : info.status !== "closed" ? (
        <>
          <div class="pa-conv-note" data-testid="read-only-note">
            {t("conv.readOnlyNote", { owner, who: info.agent_name || t("conv.they") })}
          </div>
          <Composer
            agent={self.id}
            conversation={info.id}
            canReply={false}
            fillWith={{ visitorName: name, visitorEmail: email ?? "", agentName: self.name }}
            onSend={() => undefined}
            onTyping={() => undefined}
          />
        </>
      ) : (
        <div class="pa-conv-note" data-testid="read-only-note">
          {info.status === "closed"
            ? t("conv.closedNote")
            : t("conv.readOnly", { owner, who: info.agent_name || t("conv.they") })}
        </div>
      )}
    </section>
  );
}

/** VisitorPresence says, live, whether the visitor is still there: the
 * page open, hidden (away) or closed (left), and since when. */
function VisitorPresence({ info }: { info: ConversationInfo }) {
  const p = info.visitor_presence;
  if (!p) return null;
  const since = info.visitor_seen_at ? time(info.visitor_seen_at) : "";
  const text =
    p === "online" ? t("presence.online") : p === "away" ? t("presence.away", { time: since }) : t("presence.gone", { time: since });
  const why = p === "away" ? t("presence.awayWhy") : p === "gone" ? t("presence.goneWhy") : undefined;
  return (
    <span class={"pa-presence pa-presence-" + p} data-testid="visitor-presence" data-presence={p} role="status" title={why}>
      <span class="pa-presence-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function MessageList(props: {
  items: ChatItem[];
  notes: NoteInfo[];
  self: Author;
  visitor: string;
  typing: Author | null;
  client: AgentClient;
  focusSeq: number;
  info: ConversationInfo;
  /** The oldest message held; above 1, earlier ones can be loaded. */
  firstSeq: number;
}) {
  const { items, notes, self, visitor, typing, client, focusSeq, info, firstSeq } = props;
  // Read receipts: what the agent has on screen (tab shown) is read; the
  // visitor's cursor marks the agents' last line they have seen.
  const newest = items.reduce((n, m) => (m.seq !== null && m.seq > n ? m.seq : n), 0);
  useEffect(() => {
    const mark = () => document.visibilityState === "visible" && client.markRead(info.id, newest);
    mark();
    document.addEventListener("visibilitychange", mark);
    return () => document.removeEventListener("visibilitychange", mark);
  }, [info.id, newest]);
  const lastAgentSeq = items.reduce((n, m) => (m.seq !== null && m.author.kind !== "visitor" && m.author.kind !== "system" && m.seq > n ? m.seq : n), 0);
  // A note sits after the message it was written after (its after_seq);
  // one written before any message, first.
  const seqs = items.map((m) => m.seq).filter((q): q is number => q !== null);
  const noteRow = (seq: number, next: number | null) =>
    notesAfter(notes, seq, next).map((n) => <NoteItem key={"note-" + n.id} note={n} self={self.id} />);
  // The visitor's lines carry the name they gave, as the title does.
  const nameOf = (a: Author) => (a.kind === "visitor" ? visitor : a.name);
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  // A search result's message: scrolled to once its history has loaded,
  // then the list stops following new messages until the agent scrolls
  // back down.
  const focused = useRef(0);
  const earlier = useEarlier(client, info.id, firstSeq, focusSeq);
  // Older messages put above: the ones on screen stay where they were
  // (restored once they render, which is when firstSeq moves down).
  const anchor = useRef<{ fromBottom: number; below: number } | null>(null);
  const loadEarlier = () => {
    const el = ref.current;
    if (el) anchor.current = { fromBottom: el.scrollHeight - el.scrollTop, below: firstSeq };
    void earlier.load(firstSeq - HISTORY_PAGE);
  };
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (anchor.current && firstSeq < anchor.current.below) {
      el.scrollTop = el.scrollHeight - anchor.current.fromBottom;
      anchor.current = null;
      return;
    }
    if (focusSeq && focused.current !== focusSeq) {
      const target = el.querySelector<HTMLElement>(`[data-seq="${focusSeq}"]`);
      if (target) {
        focused.current = focusSeq;
        stick.current = false;
        // Only this list scrolls (scrollIntoView would move the page too).
        el.scrollTop += target.getBoundingClientRect().top - el.getBoundingClientRect().top - (el.clientHeight - target.offsetHeight) / 2;
        return;
      }
    }
    if (stick.current) el.scrollTop = el.scrollHeight;
  });
  return (
    <div
      class="pa-messages"
      ref={ref}
      role="log"
      aria-live="polite"
      aria-label={t("msg.messages")}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
        if (el.scrollTop < 40 && firstSeq > 1 && !earlier.loading && !earlier.error) loadEarlier();
      }}
    >
      {firstSeq > 1 && (
        <div class="pa-earlier" data-testid="earlier">
          {earlier.error ? (
            <span role="alert">
              {t("msg.earlierFailed", { error: earlier.error })}{" "}
              <button type="button" class="pa-link" onClick={loadEarlier}>
                {t("common.retry")}
              </button>
            </span>
          ) : (
            <button type="button" class="pa-link" data-testid="load-earlier" disabled={earlier.loading} onClick={loadEarlier}>
              {earlier.loading ? t("msg.earlierLoading") : t("msg.earlier")}
            </button>
          )}
        </div>
      )}
      {items.length === 0 && notes.length === 0 && <p class="pa-empty-line pa-center-text">{t("msg.none")}</p>}
      {noteRow(0, seqs.length ? seqs[0] : null)}
      {items.map((m, i) => {
        const kind = m.author.kind;
        const side = kind === "system" ? "system" : kind === "agent" && (m.author.id === self.id || m.pending) ? "own" : "other";
        const prev = items[i - 1];
        // Consecutive messages of one author are grouped under one name.
        const first = !prev || prev.author.kind !== kind || prev.author.id !== m.author.id || kind === "system";
        const next = m.seq === null ? undefined : seqs[seqs.indexOf(m.seq) + 1];
        return (
          <Fragment key={m.key}>
          <div
            class={`pa-msg pa-msg-${side}${kind === "assistant" ? " pa-msg-bot" : ""}${first ? "" : " pa-msg-cont"}${m.pending ? " pa-msg-pending" : ""}${m.failed ? " pa-msg-failed" : ""}${
              focusSeq && m.seq === focusSeq ? " pa-msg-focus" : ""
            }`}
            data-focused={focusSeq && m.seq === focusSeq ? "true" : undefined}
            data-testid="message"
            data-seq={m.seq === null ? "" : String(m.seq)}
            data-pending={m.pending ? "true" : "false"}
            data-author-kind={kind}
            role={side === "system" ? "note" : undefined}
          >
            {side !== "system" && first && (
              <div class="pa-msg-author">
                {side === "own" ? t("common.you") : kind === "proactive" ? t("msg.proactive", { name: m.author.name }) : nameOf(m.author)}
              </div>
            )}
            {m.attachment ? (
              // A file's message is its name, which the link shows.
              <AttachmentLink conv={info.id} att={m.attachment} />
            ) : m.translation && (kind === "visitor" || kind === "agent") ? (
              <TranslatedBody item={m} />
            ) : (
              <div class="pa-bubble" data-testid="message-body" dir="auto">
                {m.body}
              </div>
            )}
            {m.sources?.length ? (
              <div class="pa-msg-sources" data-testid="sources">
                {t("msg.sources")}{" "}
                {m.sources.map((s, i) => (
                  <Fragment key={s.article_id}>
                    {i > 0 && ", "}
                    <a href={s.url} target="_blank" rel="noopener">
                      {s.title}
                    </a>
                  </Fragment>
                ))}
              </div>
            ) : null}
            <div class="pa-msg-meta">
              {m.failed ? (
                <>
                  {t("msg.notSent", { reason: m.failed })}{" "}
                  <button type="button" class="pa-link" onClick={() => client.retry(m.client_id)}>
                    {t("common.retry")}
                  </button>
                </>
              ) : m.pending ? (
                t("msg.sending")
              ) : (
                time(m.sent_at)
              )}
              {m.seq !== null && m.seq === lastAgentSeq && (info.visitor_read_seq ?? 0) >= m.seq && (
                <span class="pa-seen" data-testid="seen">
                  {" · " + t("msg.seen")}
                </span>
              )}
            </div>
          </div>
          {m.seq !== null && noteRow(m.seq, next ?? null)}
          </Fragment>
        );
      })}
      <PendingUploads conversation={info.id} />
      {typing && (
        <div class="pa-typing" data-testid="typing">
          <span class="pa-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {t("msg.typing", { name: nameOf(typing) })}
        </div>
      )}
    </div>
  );
}

render(<App />, document.getElementById("app")!);

/** How many messages a conversation opens with, and each earlier page. */
const HISTORY_PAGE = 50;

/**
 * useEarlier loads a conversation's older messages, from seq `from` up to
 * the first one held (firstSeq), through the history API (its pages hold at
 * most 200 messages after a given seq). A search result's message
 * (focusSeq) older than what is held is loaded with a few before it.
 */
function useEarlier(client: AgentClient, conversation: string, firstSeq: number, focusSeq: number) {
  const [state, setState] = useState<{ loading: boolean; error: string }>({ loading: false, error: "" });
  const busy = useRef(false);
  const load = async (from: number) => {
    if (busy.current) return;
    busy.current = true;
    setState({ loading: true, error: "" });
    try {
      let after = Math.max(0, from - 1);
      while (after < firstSeq - 1) {
        const page = await api<{ messages: MessageFrame[] }>(
          "GET",
          `/api/conversations/${encodeURIComponent(conversation)}/messages?after=${after}`,
        );
        const older = page.messages.filter((m) => m.seq < firstSeq);
        client.addEarlier(conversation, older);
        // Done when the page reached what is held (or the end).
        if (older.length === 0 || older.length < page.messages.length) break;
        after = older[older.length - 1].seq;
      }
      setState({ loading: false, error: "" });
    } catch (e) {
      setState({ loading: false, error: e instanceof Error ? e.message : String(e) });
    } finally {
      busy.current = false;
    }
  };
  useEffect(() => {
    if (focusSeq && focusSeq < firstSeq) void load(focusSeq - 10);
  }, [conversation, focusSeq]);
  return { ...state, load };
}

/** AttachmentLink shows a file of the conversation: an image inline (the
 * server serves only raster images inline), anything else as a download. */
function AttachmentLink({ conv, att }: { conv: string; att: Attachment }) {
  const url = `/api/conversations/${encodeURIComponent(conv)}/attachments/${encodeURIComponent(att.id)}`;

  return (
    <div class="pa-attachment" data-testid="attachment" data-type={att.type}>
      {att.image && (
        <a href={url} target="_blank" rel="noopener">
          <img src={url} alt={att.name} class="pa-attachment-img" data-testid="attachment-image" />
        </a>
      )}
      <a href={url + "?download=1"} download={att.name} data-testid="attachment-download">
        ⬇ {att.name} ({fileSize(att.size)})
      </a>
    </div>
  );
}

/** TranslatedBody shows an auto-translated message, marked, the other
 * version one click away: a visitor's message in the agent's language
 * (what the visitor wrote behind "Show original"), and an agent's reply as
 * written, "Translated to French", with what the visitor read behind "Show
 * translation". */
function TranslatedBody({ item }: { item: ChatItem }) {
  const reply = item.author.kind === "agent";
  const [original, setOriginal] = useState(reply);
  const tr = item.translation!;
  const mark = reply
    ? t("msg.translatedTo", { lang: languageName(tr.language), provider: tr.provider })
    : original
      ? tr.from
        ? t("msg.originalFrom", { lang: tr.from })
        : t("msg.original")
      : tr.from
        ? t("msg.translatedFromBy", { lang: tr.from, provider: tr.provider })
        : t("msg.translatedBy", { provider: tr.provider });
  return (
    <>
      <div class="pa-bubble" data-testid="message-body" dir="auto" lang={original ? tr.from || undefined : tr.language}>
        {original ? item.body : tr.text}
      </div>
      <div class="pa-translated" data-testid="translated">
        {mark}
        {" · "}
        <button type="button" class="pa-link" data-testid="toggle-original" aria-pressed={original} onClick={() => setOriginal(!original)}>
          {original ? t("msg.showTranslation") : reply ? t("msg.showWritten") : t("msg.showOriginal")}
        </button>
      </div>
    </>
  );
}

/** languageName is a language code's name in the agent's language ("fr":
 * "French", "francés"…), the code itself where the browser does not know it. */
function languageName(code: string): string {
  try {
    return new Intl.DisplayNames([lang], { type: "language" }).of(code) ?? code;
  } catch {
    return code;
  }
}
