// The chat UI inside the widget's iframe (/widget/frame?site=SITE_ID).
// It gets or refreshes the visitor's token, opens the live connection and
// shows the visitor's current conversation.

import { render } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ChatItem, LiveClient, exposeDebug } from "./shared/client";
import type { Attachment } from "../../pkg/protocol/protocol";
import { WebRTCLink } from "./shared/rtc";
import { CallManager } from "./shared/call";
import { CallBar } from "./call";
import type { ConversationLog } from "./shared/conversation";
import { fileSize, initials, queueText, shortTime, utf8Length } from "./shared/format";
import { ApiError, api, liveURL } from "./shared/http";
import { MAX_BODY_BYTES } from "../../pkg/protocol/protocol";
import { OfflineForm, useAvailability, type Availability } from "./offline";
import { headline } from "./headline";
import { PrechatChoice, PrechatForm, prechatDone } from "./prechat";
import { WidgetLook, useLook } from "./look";
import { choose, lang, setLanguage, t } from "./i18n";
import { Linked } from "./linkify";
import { chime, muted, setMuted } from "./alert";
import { download, transcriptText } from "./transcript";
import { Rating } from "./csat";
import { startHostAPI, usePrefill } from "./hostapi";
import { ProactiveNote } from "./proactive";
import { UploadQueue, send as sendFile, type Upload } from "./shared/uploads";

/** The answer of POST /api/widget/session. refresh comes with a new
 * anonymous visitor and each time an expired token was renewed with it. */
interface Session {
  token: string;
  refresh?: string;
  visitor: { id: string; name: string };
  expires_at: string;
}

const params = new URLSearchParams(location.search);
const site = params.get("site") ?? "";
const tokenKey = `parley:${site}:token`;
const refreshKey = `parley:${site}:refresh`;
const visitorKey = `parley:${site}:visitor`;

// Identity verification: the loader passes what the host page set in
// window.parleySettings (user_id + user_hash, or identity_token) in this
// frame's URL fragment, which is never sent to a server nor in a Referer.
// It is read once and cleared from the address.
const identity: Record<string, string> = {};
for (const [k, v] of new URLSearchParams(location.hash.slice(1))) {
  if (k === "user_id" || k === "user_hash" || k === "identity_token") identity[k] = v;
}
if (location.hash) history.replaceState(null, "", location.pathname + location.search);

// Storage may be blocked in a third-party iframe; then the visitor is new on
// every load, and chat still works for the page's lifetime.
function load(key: string): string {
  try {
    return localStorage.getItem(key) ?? "";
  } catch {
    return "";
  }
}

function keep(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // See load.
  }
}

/** Refused means retrying cannot help: the site id is unknown, or the
 * site requires identity verification that the page did not give. */
class Refused extends Error {}

/** VisitorSession gets and refreshes the visitor's token. Tokens are
 * short-lived: the server pushes fresh ones over the live connection
 * (setToken), and the refresh secret gets the visitor back after one
 * expired while the page was closed. */
class VisitorSession {
  static current: VisitorSession | null = null;

  token = load(tokenKey);
  refreshSecret = load(refreshKey);
  visitorID = load(visitorKey);

  setToken(token: string): void {
    this.token = token;
    keep(tokenKey, token);
  }

  async refresh(): Promise<void> {
    try {
      const s = await api<Session>("POST", "/api/widget/session", {
        site_id: site,
        token: this.token || undefined,
        refresh: this.refreshSecret || undefined,
        locale: navigator.language,
        page: params.get("page") ?? undefined,
        ...identity,
      });
      this.setToken(s.token);
      this.visitorID = s.visitor.id;
      keep(visitorKey, s.visitor.id);
      // A secret is handed out once and replaced on use: keep the new one.
      if (s.refresh) {
        this.refreshSecret = s.refresh;
        keep(refreshKey, s.refresh);
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw new Refused(t("This chat is not available on this site."));
      if (e instanceof ApiError && e.code === "identity") throw new Refused(t("Sign in on this site to chat with us."));
      throw e;
    }
  }
}

/** useClientVersion re-renders the component whenever the client changes. */
function useClientVersion(client: LiveClient | null): number {
  const [version, setVersion] = useState(0);
  useEffect(() => client?.subscribe(() => setVersion((v) => v + 1)), [client]);
  return version;
}

function App({ initialLook }: { initialLook: WidgetLook | null }) {
  const [fatal, setFatal] = useState(site ? "" : t("This chat is not set up correctly (no site id)."));
  // The client starts at once with the outbox of the visitor last seen in
  // this browser, so messages written before a reload show (and are sent)
  // even while the server is still unreachable.
  const client = useMemo(() => {
    if (!site) return null;
    const session = (VisitorSession.current = new VisitorSession());
    let fresh = false;
    const c: LiveClient = new LiveClient({
      role: "visitor",
      owner: session.visitorID || undefined,
      outboxKey: `parley:${site}:outbox`,
      onToken: (token) => session.setToken(token),
      url: async (failures) => {
        // Refresh the token once per page, and again when plain reconnects
        // keep failing (it may have expired).
        if (!fresh || failures >= 2) {
          try {
            await session.refresh();
          } catch (e) {
            if (e instanceof Refused) {
              setFatal(e.message);
              setTimeout(() => c.stop(), 0);
            }
            throw e;
          }
          fresh = true;
          c.setOwner(session.visitorID);
        }
        return liveURL("/ws/visitor?token=" + encodeURIComponent(session.token));
      },
    });
    return c;
  }, []);
  const [calls, setCalls] = useState<CallManager | null>(null);
  const look = useLook(site, client, initialLook);
  // Whether anyone can chat now: the header says it, and nobody there
  // (no agent online, outside hours) means the offline form.
  const avail = useAvailability(site);

  useEffect(() => {
    if (!client) return;
    client.start();
    // Chat moves to a WebRTC data channel when one opens; the WebSocket
    // stays for everything else and takes chat back when it breaks.
    const rtc = new WebRTCLink(client);
    // A frame the page loaded in the background (page trail, triggers,
    // the JS API) opens its data channel when the chat is first shown.
    const startRTC = () => {
      if (!shownInHost) return;
      hostListeners.delete(startRTC);
      rtc.start();
    };
    hostListeners.add(startRTC);
    startRTC();
    // The host page's API (hostapi.ts); reports wait for a fresh token.
    const stopHost = startHostAPI(site, client, () => (client.self ? (VisitorSession.current?.token ?? "") : ""), [
      tokenKey,
      refreshKey,
      visitorKey,
      `parley:${site}:outbox`,
    ]);
    // Calls use the same link (call.tsx).
    const cm = new CallManager(client, rtc);
    setCalls(cm);
    exposeDebug(client, rtc);
    // The agent sees the visitor away while this page is hidden.
    const visibility = () => client.setPageHidden(document.visibilityState === "hidden");
    visibility();
    document.addEventListener("visibilitychange", visibility);
    return () => {
      document.removeEventListener("visibilitychange", visibility);
      hostListeners.delete(startRTC);
      stopHost();
      cm.stop();
      rtc.stop();
      client.stop();
    };
  }, [client]);

  return (
    <div class="pw">
      <header class="pw-head">
        <div class="pw-head-text">
          <h1 class="pw-title" data-testid="widget-title">
            {look?.title || t("Chat with us")}
          </h1>
          <ConnState client={client} avail={avail} />
        </div>
        <HeadButtons client={client} title={look?.title || t("Chat with us")} />
        <button
          type="button"
          class="pw-close"
          data-testid="minimize"
          aria-label={t("Minimize chat")}
          title={t("Minimize")}
          onClick={minimize}
        >
          <Icon d="M6 9l6 6 6-6" w="2.4" />
        </button>
      </header>
      {fatal || !client ? (
        <div class="pw-fatal" role="alert">
          {fatal}
        </div>
      ) : (
        <Chat client={client} calls={calls} look={look} avail={avail} />
      )}
    </div>
  );
}

/** Icon is an 18px line icon of one path (subpaths joined). */
function Icon({ d, w = "2" }: { d: string; w?: string }) {
  return (
    <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width={w} stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d={d} />
    </svg>
  );
}

/** toHost tells the host page's side (host.ts) something. */
function toHost(m: string): void {
  if (window.parent !== window) window.parent.postMessage("parley:" + m, "*");
}

/** minimize asks the loader to hide the chat; it gives the focus back to
 * the launcher. */
function minimize(): void {
  toHost("close");
}

// Escape closes the chat, wherever the focus is in it.
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !e.defaultPrevented) minimize();
});

/** HeadButtons: sound on or off (remembered), and the transcript download. */
function HeadButtons({ client, title }: { client: LiveClient | null; title: string }) {
  const [quiet, setQuiet] = useState(muted);
  const save = () => {
    if (!client) return;
    const conv = current(client);
    const items = conv ? client.items(conv.info.id) : [];
    download("chat-transcript.txt", transcriptText(title, items));
  };
  return (
    <>
      <button
        type="button"
        class="pw-close"
        data-testid="mute"
        aria-pressed={quiet}
        aria-label={t("Mute sounds")}
        title={quiet ? t("Sounds off") : t("Sounds on")}
        onClick={() => {
          setMuted(!quiet);
          setQuiet(!quiet);
        }}
      >
        <Icon d={"M11 5 6 9H2v6h4l5 4z" + (quiet ? "M23 9l-6 6M17 9l6 6" : "M15.5 8.5a5 5 0 0 1 0 7M19 5a10 10 0 0 1 0 14")} />
      </button>
      <button type="button" class="pw-close" data-testid="transcript" aria-label={t("Download the transcript")} title={t("Download the transcript")} onClick={save}>
        <Icon d="M12 3v12M7 10l5 5 5-5M5 21h14" />
      </button>
    </>
  );
}

/** ConnState: the connection (data-state, for tests) and, in words,
 * whether the team can answer (headline.ts). A short drop stays calm: the
 * line says "Reconnecting…" only once it lasted two seconds (messages
 * written meanwhile wait in the outbox and go out on reconnect). */
function ConnState({ client, avail }: { client: LiveClient | null; avail: Availability | null }) {
  useClientVersion(client);
  const state = client?.state ?? "connecting";
  const [calm, setCalm] = useState(false);
  useEffect(() => {
    if (state !== "reconnecting") return setCalm(false);
    setCalm(true);
    const timer = setTimeout(() => setCalm(false), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  const conv = client ? current(client) : null;
  const status = conv?.info.status;
  const line = headline(calm ? "online" : state, avail, status, offlineShown(status, conv !== null, avail));
  return (
    <span
      class={"pw-conn pw-conn-" + line.tone}
      data-testid="conn-state"
      data-state={state}
      data-transport={client?.transportKind ?? "websocket"}
      title={line.text}
    >
      <span class="pw-conn-dot" aria-hidden="true" />
      {line.text}
    </span>
  );
}

/** offlineShown says whether the widget shows the form to leave a message:
 * the conversation went offline, or there is none and nobody can chat. */
function offlineShown(status: string | undefined, hasConv: boolean, avail: Availability | null): boolean {
  // A site whose assistant answers while nobody can chat opens the chat.
  return status === "offline" || (!hasConv && avail !== null && !avail.online && !avail.assistant);
}

/** handOff is "Talk to a person": the conversation leaves the assistant
 * for routing; its conversation frame then shows the queue. */
function handOff(): void {
  void api("POST", "/api/widget/handoff", { token: VisitorSession.current?.token ?? "" }).catch(() => undefined);
}

/** PersonButton is "Talk to a person", shown while the assistant answers. */
function PersonButton() {
  return (
    <button type="button" class="pw-person" data-testid="handoff" onClick={handOff}>
      {t("Talk to a person")}
    </button>
  );
}

/** current picks the conversation to show: the open or queued one, else the
 * most recent closed one (so the visitor sees that the chat ended). */
function current(client: LiveClient): ConversationLog | null {
  let best: ConversationLog | null = null;
  for (const c of client.conversations.values()) {
    if (!best) best = c;
    else {
      const a = c.info.status !== "closed";
      const b = best.info.status !== "closed";
      if (a !== b ? a : c.info.created_at > best.info.created_at) best = c;
    }
  }
  return best;
}

function Chat({ client, calls, look, avail }: { client: LiveClient; calls: CallManager | null; look: WidgetLook | null; avail: Availability | null }) {
  useClientVersion(client);
  // After "Start a new chat" the closed conversation is left behind.
  const [leftBehind, setLeftBehind] = useState<string | null>(null);
  let conv = current(client);
  if (conv && conv.info.id === leftBehind && conv.info.status === "closed") conv = null;
  const convID = conv?.info.id ?? null;
  const status = conv?.info.status ?? "";
  const items = [...(convID ? client.items(convID) : []), ...client.items(null)];
  const typing = convID ? client.typingIn(convID) : null;
  const closed = status === "closed";
  const uploads = useUploads(client);
  useUnreadBadge(items, client);
  useFocusOnShow();
  const offline = offlineShown(status, conv !== null, avail);
  const [asked, setAsked] = useState(() => prechatDone(site));
  const fields = look?.prechat_fields ?? [];
  const prechat = !conv && !asked && fields.length > 0;

  return (
    <>
      {!offline && <StatusLine client={client} conv={conv} />}
      {calls && convID && status === "open" && <CallBar calls={calls} conversation={convID} selfID={client.self?.id} voice={avail?.visitor_calls === true} />}
      {client.lastError && (
        <div class="pw-alert" role="alert" data-testid="error">
          <span>{client.lastError.message || t("Something went wrong.")}</span>
          <button type="button" class="pw-link" onClick={() => client.clearError()}>
            {t("Dismiss")}
          </button>
        </div>
      )}
      <ProactiveNote answered={items.some((m) => m.author.kind === "proactive")} />
      <MessageList items={items} typingName={typing?.name ?? null} client={client} look={look} uploads={uploads} conv={convID} />
      {closed ? (
        <div class="pw-ended">
          <p>{t("This chat has ended")}</p>
          <Rating key={convID} site={site} conversation={convID!} rated={conv?.info.csat_rating ?? 0} />
          <button type="button" class="pw-btn" data-testid="new-chat" onClick={() => setLeftBehind(convID)}>
            {t("Start a new chat")}
          </button>
        </div>
      ) : offline ? (
        <OfflineForm site={site} reason={avail?.reason} reopensAt={avail?.reopens_at} fields={fields} />
      ) : prechat ? (
        <PrechatForm
          site={site}
          fields={fields}
          avail={avail}
          onDone={() => {
            setAsked(true);
            setTimeout(() => document.querySelector<HTMLElement>("[data-testid=composer]")?.focus(), 0);
          }}
        />
      ) : (
        <>
          {!conv && !fields.length && avail?.choices?.length ? <PrechatChoice site={site} avail={avail} /> : null}
          <Composer
            onSend={(body) => client.send(convID, body)}
            onTyping={(text) => convID && client.noteTyping(convID, text)}
            onFile={convID ? (f) => uploads.add(convID, f) : undefined}
            maxBytes={look?.attachments?.max_bytes}
          />
        </>
      )}
    </>
  );
}

/** The frame is created when the visitor opens the chat; the loader says
 * when it is hidden and shown again. */
let shownInHost = !params.has("bg");
const hostListeners = new Set<() => void>();
window.addEventListener("message", (ev: MessageEvent) => {
  if (ev.source !== window.parent || (ev.data !== "parley:shown" && ev.data !== "parley:hidden")) return;
  shownInHost = ev.data === "parley:shown";
  for (const fn of hostListeners) fn();
});

/** useFocusOnShow moves the focus into the chat each time it is shown (the
 * composer, else the first field or button), so a keyboard user types at
 * once. */
function useFocusOnShow(): void {
  useEffect(() => {
    const focus = () => {
      if (!shownInHost) return;
      const el = document.querySelector<HTMLElement>("[data-testid=composer], .pw-offline input, .pw-ended button, .pw-prechat-form input");
      el?.focus();
    };
    focus();
    hostListeners.add(focus);
    return () => void hostListeners.delete(focus);
  }, []);
}

/** useUnreadBadge tells the loader how many replies arrived while the chat
 * or the tab was hidden, for the badge on the launcher and the page's
 * title (flashing "(1) New message" until the visitor looks, unless they
 * muted alerts), and chimes for each new one (alert.ts). */
function useUnreadBadge(items: ChatItem[], client: LiveClient | null): void {
  const [shown, setShown] = useState(shownInHost);
  useEffect(() => {
    const fn = () => setShown(shownInHost && document.visibilityState === "visible");
    fn();
    hostListeners.add(fn);
    document.addEventListener("visibilitychange", fn);
    // The launcher's label in the visitor's language.
    toHost("label:" + t("Chat with us"));
    return () => {
      hostListeners.delete(fn);
      document.removeEventListener("visibilitychange", fn);
    };
  }, []);
  const seen = useRef(-1);
  const sent = useRef(0);
  let newest = 0;
  const reply = (m: ChatItem) => m.seq !== null && (m.author.kind === "agent" || m.author.kind === "assistant");
  for (const m of items) if (reply(m) && m.seq! > newest) newest = m.seq!;
  if (shown || seen.current < 0) seen.current = Math.max(seen.current, newest);
  const unread = items.filter((m) => reply(m) && m.seq! > seen.current).length;
  const heard = useRef(-1);
  // What is shown on a visible page is read (a read receipt).
  const conv = client ? current(client) : null;
  useEffect(() => {
    if (shown && conv) client!.markRead(conv.info.id, newest);
  });
  useEffect(() => {
    if (heard.current >= 0 && newest > heard.current && !shown) chime();
    heard.current = newest;
  }, [newest]);
  useEffect(() => {
    if (unread === sent.current) return;
    sent.current = unread;
    toHost("unread:" + unread);
    toHost("title:" + (unread && !muted() ? t("({0}) New message", unread) : ""));
  }, [unread]);
}

/** useUploads is the visitor's queue of files (shared/uploads.ts), sent
 * with their token while the live connection is up. */
function useUploads(client: LiveClient): UploadQueue {
  const [, setVersion] = useState(0);
  const q = useMemo(
    () =>
      new UploadQueue(
        (u, progress) =>
          sendFile(`/api/widget/conversations/${encodeURIComponent(u.conversation)}/attachments`, u, { Authorization: "Bearer " + (VisitorSession.current?.token ?? "") }, progress),
        () => setVersion((v) => v + 1),
      ),
    [],
  );
  useEffect(() => q.setOnline(client.state === "online"));
  return q;
}

/** tooBig is the visitor's words for a file over the site's limit. */
const tooBig = (max = 0) => t("This file is too big: the limit is {0}.", fileSize(max, lang));

/** refusal says, in the visitor's language, why the server refused a file. */
function refusal(u: Upload, max?: number): string {
  const s = u.failed!.status;
  return s === 413 ? tooBig(max) : s === 415 ? t("This type of file is not accepted here.") : u.failed!.message || t("Something went wrong.");
}

/** UploadItem is a file on its way: a pending message with its progress,
 * or the reason it was refused with Retry and Remove. */
function UploadItem({ u, queue, max }: { u: Upload; queue: UploadQueue; max?: number }) {
  return (
    <div class={"pw-msg pw-msg-own pw-msg-pending" + (u.failed ? " pw-msg-failed" : "")} data-testid="upload">
      <div class="pw-bubble">{u.name + " · " + fileSize(u.file.size, lang)}</div>
      {u.failed ? (
        <div class="pw-msg-meta" role="alert" data-testid="upload-error">
          {refusal(u, max) + " "}
          <button type="button" class="pw-link" onClick={() => queue.retry(u.client_id)}>
            {t("Retry")}
          </button>{" "}
          <button type="button" class="pw-link" onClick={() => queue.remove(u.client_id)}>
            {t("Remove")}
          </button>
        </div>
      ) : (
        <progress max={u.file.size} value={u.sent} aria-label={t("sending…")} />
      )}
    </div>
  );
}

function StatusLine({ client, conv }: { client: LiveClient; conv: ConversationLog | null }) {
  if (!conv) {
    return <div class="pw-status">{t("Send us a message and the team will answer here.")}</div>;
  }
  const { status, agent_name } = conv.info;
  if (status === "queued") {
    const q = client.queue.get(conv.info.id);
    return (
      <div class="pw-status pw-status-queued" data-testid="queue-status" aria-live="polite">
        {q ? queueText(q.position, q.estimated_wait_seconds, t) : t("Waiting for the next available agent…")}
      </div>
    );
  }
  if (status === "assistant") {
    return (
      <div class="pw-status pw-status-bot" data-testid="assistant-status">
        <span>{t("You are chatting with our assistant")}</span>
        <PersonButton />
      </div>
    );
  }
  if (status === "open") {
    return (
      <div class="pw-status pw-status-open" aria-live="polite">
        {t("You are chatting with")} <strong data-testid="agent-name">{agent_name || t("an agent")}</strong>
      </div>
    );
  }
  // Closed: the footer says so, with the button to start again.
  return null;
}

function MessageList(props: { items: ChatItem[]; typingName: string | null; client: LiveClient; look: WidgetLook | null; uploads: UploadQueue; conv: string | null }) {
  const { items, typingName, client, look, uploads } = props;
  // Read receipts: the agents' cursor marks the visitor's last message
  // they have seen.
  const lastOwn = items.reduce((n, m) => (m.seq !== null && m.author.kind === "visitor" && m.seq > n ? m.seq : n), 0);
  const agentRead = current(client)?.info.agent_read_seq ?? 0;
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });
  return (
    <div
      class="pw-list"
      ref={ref}
      role="log"
      aria-live="off"
      tabIndex={0}
      aria-label={t("Messages")}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
    >
      {items.length === 0 && (
        <div class="pw-greeting" data-testid="greeting">
          {look?.greeting ? (
            <span>{look.greeting}</span>
          ) : (
            <>
              <strong>{t("Hi there 👋")}</strong>
              <span>{t("How can we help you today?")}</span>
            </>
          )}
        </div>
      )}
      {items.map((m, i) => (
        <Message key={m.key} item={m} client={client} first={i === 0 || !sameAuthor(items[i - 1], m)} last={i === items.length - 1 || !sameAuthor(m, items[i + 1])} avatar={look?.show_avatars ?? true} seen={m.seq !== null && m.seq === lastOwn && agentRead >= m.seq} />
      ))}
      {uploads.items.map((u) => u.conversation === props.conv && <UploadItem key={u.client_id} u={u} queue={uploads} max={look?.attachments?.max_bytes} />)}
      <Announcer items={items} />
      {typingName && (
        <div class="pw-typing" data-testid="typing">
          <span class="pw-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {t("{0} is typing…", typingName)}
        </div>
      )}
    </div>
  );
}

/** Announcer is the live region screen readers hear new messages from
 * (the list itself is not live: it would read times and "sending…"). */
function Announcer({ items }: { items: ChatItem[] }) {
  const last = items[items.length - 1];
  const said = useRef<string | null>(null);
  const first = said.current === null;
  said.current = last?.key ?? "";
  const text = !first && last && last.author.kind !== "visitor" && last.seq !== null ? t("{0} says: {1}", last.author.name, last.body) : "";
  return (
    <div class="pw-sr" aria-live="polite" data-testid="announcer">
      {text}
    </div>
  );
}

/** Consecutive messages of one author, each within five minutes of the
 * one before, are grouped under one name with one time. */
function sameAuthor(a: ChatItem, b: ChatItem): boolean {
  return (
    a.author.kind === b.author.kind &&
    a.author.id === b.author.id &&
    a.author.kind !== "system" &&
    Math.abs(Date.parse(b.sent_at) - Date.parse(a.sent_at)) < 5 * 60_000
  );
}

/** fileURL fetches a file of the visitor's conversation with their token
 * (never in the address) and keeps it in memory as a blob: URL, once per
 * file. */
const files = new Map<string, Promise<string>>();
function fileURL(client: LiveClient, att: Attachment): Promise<string> {
  let p = files.get(att.id);
  if (!p) {
    p = fetch(`/api/widget/conversations/${encodeURIComponent(current(client)?.info.id ?? "")}/attachments/${encodeURIComponent(att.id)}`, {
      headers: { Authorization: "Bearer " + (VisitorSession.current?.token ?? "") },
    }).then(async (res) => {
      if (!res.ok) throw new Error();
      return URL.createObjectURL(await res.blob());
    });
    p.catch(() => files.delete(att.id)); // tried again on the next render
    files.set(att.id, p);
  }
  return p;
}

/** saveFile saves a file of the conversation under its name. */
async function saveFile(client: LiveClient, att: Attachment): Promise<void> {
  const url = await fileURL(client, att);
  const a = document.createElement("a");
  a.href = url;
  a.download = att.name;
  document.body.appendChild(a); // a detached link downloads nothing in some browsers
  a.click();
  a.remove();
}

/** FileView shows a file of the conversation: an image inline (click: full
 * size in a new tab), and its name and size as a download button. */
function FileView({ client, att }: { client: LiveClient; att: Attachment }) {
  const [url, setURL] = useState("");
  useEffect(() => {
    if (att.image) fileURL(client, att).then(setURL, () => undefined);
  }, [att.id]);
  return (
    <>
      {url && (
        <a href={url} target="_blank" rel="noopener" class="pw-img">
          <img src={url} alt={att.name} data-testid="attachment-image" />
        </a>
      )}
      <button type="button" class="pw-link pw-file" data-testid="attachment-download" aria-label={t("Download {0}", att.name)} onClick={() => void saveFile(client, att)}>
        {"⬇ " + att.name + " · " + fileSize(att.size, lang)}
      </button>
    </>
  );
}

function Message({ item, client, first, last, avatar, seen }: { item: ChatItem; client: LiveClient; first: boolean; last: boolean; avatar: boolean; seen?: boolean }) {
  const kind = item.author.kind;
  const side = kind === "visitor" ? "own" : kind === "system" ? "system" : "other";
  // The assistant is an author of its own kind: its own mark and label,
  // whatever name the server gave it, and the articles it answered from.
  const bot = kind === "assistant";
  const sources = item.sources ?? [];
  // An agent's reply translated into the visitor's language shows the
  // translation, marked, with what the agent wrote one click away.
  const [original, setOriginal] = useState(false);
  const tr = side === "other" ? item.translation : undefined;
  return (
    <div
      class={`pw-msg pw-msg-${side}${bot ? " pw-msg-bot" : ""}${first ? "" : " pw-msg-cont"}${item.pending ? " pw-msg-pending" : ""}${item.failed ? " pw-msg-failed" : ""}`}
      data-testid={item.draft ? "draft" : "message"}
      data-seq={item.seq === null ? "" : String(item.seq)}
      data-pending={item.pending ? "true" : "false"}
      data-author-kind={kind}
    >
      {side === "other" && first && (
        <div class="pw-msg-author-row">
          {avatar && kind === "agent" && (
            <span class="pw-agent-avatar" aria-hidden="true" data-testid="agent-avatar">
              {initials(item.author.name)}
            </span>
          )}
          {bot && (
            <span class="pw-agent-avatar pw-bot-avatar" aria-hidden="true">
              ✦
            </span>
          )}
          <div class="pw-msg-author">{bot ? t("Assistant") : item.author.name}</div>
        </div>
      )}
      {item.attachment ? (
        <FileView client={client} att={item.attachment} />
      ) : (
        <div class="pw-bubble" data-testid="message-body" lang={tr && !original ? tr.language : undefined}>
          <Linked text={tr && !original ? tr.text : item.notice ? t(item.notice, ...(item.args ?? [])) : item.body} />
        </div>
      )}
      {tr && (
        <div class="pw-translated" data-testid="translated">
          {original ? t("Original") : t("Translated automatically")}
          {" · "}
          <button type="button" class="pw-link" data-testid="toggle-original" aria-pressed={original} onClick={() => setOriginal(!original)}>
            {original ? t("Show translation") : t("Show original")}
          </button>
        </div>
      )}
      {sources.length > 0 && (
        <div class="pw-sources" data-testid="sources">
          {t("Sources:")}
          {sources.map((s) => (
            <a key={s.article_id} href={s.url} target="_blank" rel="noopener" data-testid="source">
              {s.title}
            </a>
          ))}
        </div>
      )}
      {bot && item.seq !== null && !sources.length && last && current(client)?.info.status === "assistant" && <PersonButton />}
      {!item.draft && (last || item.pending || item.failed) && <div class="pw-msg-meta">
        {item.failed ? (
          <>
            <span>{t("Not sent: {0}", item.failed)}</span>{" "}
            <button type="button" class="pw-link" onClick={() => client.retry(item.client_id)}>
              {t("Retry")}
            </button>
          </>
        ) : item.pending ? (
          t("sending…")
        ) : (
          shortTime(item.sent_at, undefined, lang)
        )}
        {seen && <span data-testid="seen">{" · " + t("Seen")}</span>}
      </div>}
    </div>
  );
}

function Composer({ onSend, onTyping, onFile, maxBytes }: { onSend: (body: string) => void; onTyping: (text: string) => void; onFile?: (f: File) => void; maxBytes?: number }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const ref = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  // A message the host page prefilled (Parley("prefill", text)).
  usePrefill(setText);
  const tooLong = useMemo(() => utf8Length(text) > MAX_BODY_BYTES, [text]);

  const submit = () => {
    const body = text.trim();
    if (!body) return;
    if (utf8Length(body) > MAX_BODY_BYTES) {
      setError(t("This message is too long. Please shorten it."));
      return;
    }
    onSend(body);
    setText("");
    setError("");
    ref.current?.focus();
  };

  return (
    <form
      class="pw-composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {(error || tooLong) && (
        <div class="pw-error" role="alert">
          {error || t("This message is too long. Please shorten it.")}
        </div>
      )}
      <div class="pw-composer-row">
        {onFile && (
          <>
            <input
              ref={picker}
              type="file"
              multiple
              class="pw-sr"
              tabIndex={-1}
              aria-hidden="true"
              data-testid="attach-input"
              onChange={(e) => {
                const input = e.currentTarget;
                setError("");
                // Over the site's limit: said at once, nothing is sent.
                for (const f of input.files ?? []) {
                  if (f.size > (maxBytes || Infinity)) setError(tooBig(maxBytes));
                  else onFile(f);
                }
                input.value = "";
              }}
            />
            <button type="button" class="pw-send pw-attach" data-testid="attach" aria-label={t("Attach a file")} title={t("Attach a file")} onClick={() => picker.current?.click()}>
              <Icon d="m21 11-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7" />
            </button>
          </>
        )}
        <textarea
          ref={ref}
          data-testid="composer"
          aria-label={t("Message")}
          placeholder={t("Type your message…")}
          rows={1}
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            onTyping(e.currentTarget.value);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
        />
        <button type="submit" class="pw-send" data-testid="send" aria-label={t("Send")} title={t("Send")} disabled={!text.trim()}>
          <Icon d="M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z" w="2.2" />
        </button>
      </div>
    </form>
  );
}

// The site's look says which language to speak, so it is read before the
// first render: the visitor never sees the widget switch language.
void (async () => {
  const look = site
    ? await api<{ look: WidgetLook }>("GET", "/api/widget/look?site=" + encodeURIComponent(site)).then(
        (x) => x.look,
        () => null,
      )
    : null;
  await setLanguage(choose(look?.language, params.get("locale"), navigator.languages));
  render(<App initialLook={look} />, document.getElementById("app")!);
})();
