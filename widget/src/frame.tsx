// The chat UI inside the widget's iframe (/widget/frame?site=SITE_ID).
// It gets or refreshes the visitor's token, opens the live connection and
// shows the visitor's current conversation.

import { render } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ChatItem, LiveClient, exposeDebug } from "./shared/client";
import { WebRTCLink } from "./shared/rtc";
import { CallManager } from "./shared/call";
import { CallBar } from "./call";
import type { ConversationLog } from "./shared/conversation";
import { initials, queueText, shortTime, utf8Length } from "./shared/format";
import { ApiError, api, liveURL } from "./shared/http";
import { MAX_BODY_BYTES } from "../../pkg/protocol/protocol";
import { OfflineForm, useAvailability, type Availability } from "./offline";
import { headline } from "./headline";
import { PrechatChoice } from "./prechat";
import { WidgetLook, useLook } from "./look";

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
      if (e instanceof ApiError && e.status === 404) throw new Refused("This chat is not available on this site.");
      if (e instanceof ApiError && e.code === "identity") throw new Refused("Sign in on this site to chat with us.");
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

function App() {
  const [fatal, setFatal] = useState(site ? "" : "This chat is not set up correctly (no site id).");
  // The client starts at once with the outbox of the visitor last seen in
  // this browser, so messages written before a reload show (and are sent)
  // even while the server is still unreachable.
  const client = useMemo(() => {
    if (!site) return null;
    const session = new VisitorSession();
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
  const look = useLook(site, client);
  // Whether anyone can chat now: the header says it, and nobody there
  // (no agent online, outside hours) means the offline form.
  const avail = useAvailability(site);

  useEffect(() => {
    if (!client) return;
    client.start();
    // Chat moves to a WebRTC data channel when one opens; the WebSocket
    // stays for everything else and takes chat back when it breaks.
    const rtc = new WebRTCLink(client);
    rtc.start();
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
            {look?.title || "Chat with us"}
          </h1>
          <ConnState client={client} avail={avail} />
        </div>
        <button
          type="button"
          class="pw-close"
          aria-label="Minimize chat"
          title="Minimize"
          onClick={() => window.parent !== window && window.parent.postMessage("parley:close", "*")}
        >
          <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" aria-hidden="true">
            <path d="M6 9l6 6 6-6" />
          </svg>
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

/** ConnState: the connection (data-state, for tests) and, in words,
 * whether the team can answer (headline.ts). */
function ConnState({ client, avail }: { client: LiveClient | null; avail: Availability | null }) {
  useClientVersion(client);
  const state = client?.state ?? "connecting";
  const conv = client ? current(client) : null;
  const status = conv?.info.status;
  const line = headline(state, avail, status === "open", offlineShown(status, conv !== null, avail));
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
  return status === "offline" || (!hasConv && avail !== null && !avail.online);
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
  useUnreadBadge(items);
  const offline = offlineShown(status, conv !== null, avail);

  return (
    <>
      {!offline && <StatusLine client={client} conv={conv} />}
      {calls && convID && status === "open" && <CallBar calls={calls} conversation={convID} selfID={client.self?.id} voice={avail?.visitor_calls === true} />}
      {client.lastError && (
        <div class="pw-alert" role="alert" data-testid="error">
          <span>{client.lastError.message || "Something went wrong."}</span>
          <button type="button" class="pw-link" onClick={() => client.clearError()}>
            Dismiss
          </button>
        </div>
      )}
      <MessageList items={items} typingName={typing?.name ?? null} client={client} look={look} />
      {closed ? (
        <div class="pw-ended">
          <p>This chat has ended</p>
          <button type="button" class="pw-btn" data-testid="new-chat" onClick={() => setLeftBehind(convID)}>
            Start a new chat
          </button>
        </div>
      ) : offline ? (
        <OfflineForm site={site} reason={avail?.reason} reopensAt={avail?.reopens_at} />
      ) : (
        <>
          {!conv && avail?.choices?.length ? <PrechatChoice site={site} avail={avail} /> : null}
          <Composer
            onSend={(body) => client.send(convID, body)}
            onTyping={(text) => convID && client.noteTyping(convID, text)}
          />
        </>
      )}
    </>
  );
}

/** The frame is created when the visitor opens the chat; the loader says
 * when it is hidden and shown again. */
let shownInHost = true;
const hostListeners = new Set<() => void>();
window.addEventListener("message", (ev: MessageEvent) => {
  if (ev.source !== window.parent || (ev.data !== "parley:shown" && ev.data !== "parley:hidden")) return;
  shownInHost = ev.data === "parley:shown";
  for (const fn of hostListeners) fn();
});

/** useUnreadBadge tells the loader how many replies arrived while the chat
 * was hidden, for the badge on the launcher. */
function useUnreadBadge(items: ChatItem[]): void {
  const [shown, setShown] = useState(shownInHost);
  useEffect(() => {
    const fn = () => setShown(shownInHost);
    hostListeners.add(fn);
    return () => void hostListeners.delete(fn);
  }, []);
  const seen = useRef(-1);
  const sent = useRef(0);
  let newest = 0;
  const reply = (m: ChatItem) => m.seq !== null && m.author.kind === "agent";
  for (const m of items) if (reply(m) && m.seq! > newest) newest = m.seq!;
  if (shown || seen.current < 0) seen.current = Math.max(seen.current, newest);
  const unread = items.filter((m) => reply(m) && m.seq! > seen.current).length;
  useEffect(() => {
    if (unread === sent.current || window.parent === window) return;
    sent.current = unread;
    window.parent.postMessage("parley:unread:" + unread, "*");
  }, [unread]);
}

function StatusLine({ client, conv }: { client: LiveClient; conv: ConversationLog | null }) {
  if (!conv) {
    return <div class="pw-status">Send us a message and the team will answer here.</div>;
  }
  const { status, agent_name } = conv.info;
  if (status === "queued") {
    const q = client.queue.get(conv.info.id);
    return (
      <div class="pw-status pw-status-queued" data-testid="queue-status" aria-live="polite">
        {q ? queueText(q.position, q.estimated_wait_seconds) : "Waiting for the next available agent…"}
      </div>
    );
  }
  if (status === "open") {
    return (
      <div class="pw-status pw-status-open" aria-live="polite">
        You are chatting with <strong data-testid="agent-name">{agent_name || "an agent"}</strong>
      </div>
    );
  }
  // Closed: the footer says so, with the button to start again.
  return null;
}

function MessageList(props: { items: ChatItem[]; typingName: string | null; client: LiveClient; look: WidgetLook | null }) {
  const { items, typingName, client, look } = props;
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
      aria-live="polite"
      aria-label="Messages"
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
              <strong>Hi there 👋</strong>
              <span>How can we help you today?</span>
            </>
          )}
        </div>
      )}
      {items.map((m, i) => (
        <Message key={m.key} item={m} client={client} first={i === 0 || !sameAuthor(items[i - 1], m)} avatar={look?.show_avatars ?? true} />
      ))}
      {typingName && (
        <div class="pw-typing" data-testid="typing">
          <span class="pw-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {typingName} is typing…
        </div>
      )}
    </div>
  );
}

/** Consecutive messages of one author are grouped under one name. */
function sameAuthor(a: ChatItem, b: ChatItem): boolean {
  return a.author.kind === b.author.kind && a.author.id === b.author.id && a.author.kind !== "system";
}

function Message({ item, client, first, avatar }: { item: ChatItem; client: LiveClient; first: boolean; avatar: boolean }) {
  const kind = item.author.kind;
  const side = kind === "visitor" ? "own" : kind === "system" ? "system" : "other";
  return (
    <div
      class={`pw-msg pw-msg-${side}${first ? "" : " pw-msg-cont"}${item.pending ? " pw-msg-pending" : ""}${item.failed ? " pw-msg-failed" : ""}`}
      data-testid="message"
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
          <div class="pw-msg-author">{item.author.name}</div>
        </div>
      )}
      <div class="pw-bubble" data-testid="message-body">
        {item.body}
      </div>
      <div class="pw-msg-meta">
        {item.failed ? (
          <>
            <span>Not sent: {item.failed}</span>{" "}
            <button type="button" class="pw-link" onClick={() => client.retry(item.client_id)}>
              Retry
            </button>
          </>
        ) : item.pending ? (
          "sending…"
        ) : (
          shortTime(item.sent_at)
        )}
      </div>
    </div>
  );
}

function Composer({ onSend, onTyping }: { onSend: (body: string) => void; onTyping: (text: string) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const ref = useRef<HTMLTextAreaElement>(null);
  const tooLong = useMemo(() => utf8Length(text) > MAX_BODY_BYTES, [text]);

  const submit = () => {
    const body = text.trim();
    if (!body) return;
    if (utf8Length(body) > MAX_BODY_BYTES) {
      setError("This message is too long. Please shorten it.");
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
          {error || "This message is too long. Please shorten it."}
        </div>
      )}
      <div class="pw-composer-row">
        <textarea
          ref={ref}
          data-testid="composer"
          aria-label="Message"
          placeholder="Type your message…"
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
        <button type="submit" class="pw-send" data-testid="send" aria-label="Send" title="Send" disabled={!text.trim()}>
          <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
            <path d="M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z" />
          </svg>
        </button>
      </div>
    </form>
  );
}

render(<App />, document.getElementById("app")!);
