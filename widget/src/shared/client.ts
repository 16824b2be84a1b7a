// LiveClient is the browser side of Parley's delivery promise, shared by the
// widget and the agent app (docs/API.md, "Live protocol in one page"):
//
//   - every send gets a client_id (UUID) and stays in the outbox, shown as
//     pending, until the server acks it; unacked sends are sent again with the
//     same client_id after a reconnect, a retryable error or a lost ack, and
//     the outbox survives a page reload (localStorage);
//   - received messages are kept per conversation by seq, duplicates dropped;
//     a message ahead of a gap is held back (not shown, not passed to
//     listeners) for a short reorder window, since publications from
//     different signaling nodes can overtake each other; if the gap fills
//     within it the messages are delivered in seq order with no resume;
//   - a gap that outlasts the window, a reconnect, a server's resync frame (its node lost the bus
//     for a while) or a first sight of a conversation asks the server to
//     resume from the highest contiguous seq;
//   - a lost connection is retried with exponential back-off and jitter,
//     promptly when the server said it is going away (1001).

import type {
  AckFrame,
  Author,
  ConversationInfo,
  ErrorFrame,
  Frame,
  MessageFrame,
  Source,
  TranslationInfo,
  Attachment,
  WelcomeFrame,
} from "../../../pkg/protocol/protocol";
import { VERSION } from "../../../pkg/protocol/protocol";
import { ConversationLog } from "./conversation";
import { WebSocketTransport, type CloseInfo, type Transport, type TransportKind } from "./transport";
import { newClientID } from "./uuid";

export type ConnState = "connecting" | "online" | "reconnecting";

/** A message the user sent that the server has not acked yet. */
export interface OutboxItem {
  client_id: string;
  /** null while a visitor's first message waits for its conversation. */
  conversation: string | null;
  body: string;
  created_at: string;
  /** Set when the server refused the message for good (not retryable). */
  failed?: string;
}

/** One line of a conversation as the UI shows it. */
export interface ChatItem {
  key: string;
  seq: number | null;
  pending: boolean;
  failed: string | null;
  client_id: string;
  author: Author;
  body: string;
  sent_at: string;
  /** The help articles an assistant's answer came from. */
  sources?: Source[];
  /** An assistant's answer still being written (assistant_draft). */
  draft?: boolean;
  /** The message in this side's language (auto-translation); body stays
   * the original. */
  translation?: TranslationInfo;
  /** The file the message carries (its body is the file's name). */
  attachment?: Attachment;
  /** A system notice's template and values (protocol Message.notice),
   * for the widget to write in the visitor's language. */
  notice?: string;
  args?: string[];
}

export interface QueueState {
  position: number;
  estimated_wait_seconds: number;
}

export interface ClientOptions {
  role: "visitor" | "agent";
  /** The live endpoint's URL, asked before every connection attempt.
   * failures counts consecutive failed attempts, so a caller can refresh
   * its credentials once the plain retry does not work. */
  url: (failures: number) => string | Promise<string>;
  /** localStorage key that keeps the outbox across reloads. */
  outboxKey?: string;
  /** Whose outbox it is (visitor or agent id); a stored outbox of another
   * owner is dropped, never sent under the wrong identity. */
  owner?: string;
  /** Makes the transport for a URL; WebSocket by default. */
  transport?: (url: string) => Transport;
  /** Receives the fresh visitor tokens the server pushes before the
   * current one expires (token frames); keep them for the next connection. */
  onToken?: (token: string, expiresAt: string) => void;
}

// Timings. Back-off doubles from BACKOFF_MIN_MS up to BACKOFF_MAX_MS, with
// jitter so that a restarted server is not hit by every client at once.
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
const GOING_AWAY_MAX_MS = 250;
const CONNECT_TIMEOUT_MS = 10_000;
const PING_EVERY_MS = 25_000;
const SILENCE_LIMIT_MS = 60_000;
const ACK_TIMEOUT_MS = 20_000;
const TYPING_SHOW_MS = 8_000;
const TYPING_RESEND_MS = 3_000;
const TYPING_IDLE_MS = 4_000;
const MAX_RESUME_TOPICS = 200;
/** How long a message ahead of a gap waits for the missing ones before the
 * client asks for a resume. Cross-node overtaking is a few milliseconds. */
const REORDER_WINDOW_MS = 150;

/** backoffDelay is how long to wait before connection attempt number
 * failures+1: exponential, capped, with the upper half jittered. */
export function backoffDelay(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(failures, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class LiveClient {
  state: ConnState = "connecting";
  /** Times the client came back online after having been online. */
  reconnects = 0;
  self: Author | null = null;
  /** The agent's status as the server last reported it. */
  status = "";
  readonly conversations = new Map<string, ConversationLog>();
  readonly queue = new Map<string, QueueState>();
  readonly typing = new Map<string, { author: Author; until: number }>();
  /** The assistant's answer being written, per conversation, from its
   * assistant_draft frames: shown until the stored answer (same client
   * id) arrives or the conversation leaves the assistant. */
  readonly drafts = new Map<string, { client_id: string; text: string }>();
  outbox: OutboxItem[] = [];
  /** The last error the server sent that no request handles by itself. */
  lastError: ErrorFrame | null = null;
  /** The trigger of the proactive message the visitor sees (hostapi.ts):
   * a conversation started now opens with that message, stored. */
  trigger = "";

  private opts: ClientOptions;
  private listeners = new Set<() => void>();
  private transport: Transport | null = null;
  /** The data channel while it carries chat; null means the WebSocket does. */
  private chat: Transport | null = null;
  private frameListeners = new Set<(frame: Frame) => void>();
  /** Translations for this side, by "conversation:seq" (translation
   * frames, and messages that come with one on resume). */
  private translations = new Map<string, TranslationInfo>();
  private online = false;
  private everOnline = false;
  private stopped = true;
  private failures = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private lastPingAt = 0;
  private sentAt = new Map<string, number>();
  private retryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private retryCount = new Map<string, number>();
  private resuming = new Set<string>();
  /** Resume frames in flight by ref, with the conversations they ask for
   * and how often they were refused: a refused one (rate_limited,
   * unavailable) is sent again after a back-off, so no conversation stays
   * "resuming" with its later gaps ignored. */
  private resumes = new Map<string, { ids: string[]; tries: number }>();
  private resumeTimers = new Set<ReturnType<typeof setTimeout>>();
  private resumeRefs = 0;
  /** Messages that arrived ahead of a gap, by conversation and seq, held
   * until the gap fills (within the window or by the resume after it). */
  private held = new Map<string, Map<number, MessageFrame>>();
  /** The reorder window running per conversation with a gap. */
  private reorderTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private startRef: string | null = null;
  private typingSentAt = new Map<string, number>();
  private readSent = new Map<string, number>();
  private typingKeyAt = new Map<string, number>();
  private notifyQueued = false;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    this.outbox = loadOutbox(opts.outboxKey, opts.owner);
  }

  /** subscribe calls fn (batched, asynchronously) after any change of state. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The transport that carries chat now. */
  get transportKind(): TransportKind {
    return this.chat ? this.chat.kind : (this.transport?.kind ?? "websocket");
  }

  /**
   * listen calls fn for every frame received, on any transport, after the
   * client has applied it. The WebRTC negotiation (rtc_offer, rtc_candidate,
   * rtc_stop) is read here. Returns a function that stops listening.
   */
  listen(fn: (frame: Frame) => void): () => void {
    this.frameListeners.add(fn);
    return () => this.frameListeners.delete(fn);
  }

  /** sendControl sends a frame over the WebSocket (rtc_start, rtc_answer,
   * rtc_candidate, rtc_stop). False when not connected. */
  sendControl(frame: Frame): boolean {
    if (!this.online || !this.transport) return false;
    return this.transport.send(frame);
  }

  /**
   * attachChatTransport makes an open transport (the WebRTC data channel)
   * carry the chat: send, typing and resume frames go over it, and what it
   * receives is applied like WebSocket frames. Everything else stays on the
   * WebSocket. When it closes, chat falls back to the WebSocket: sends not
   * yet acked are sent again there (same client_id) and every conversation
   * is resumed from its last contiguous seq, so nothing is lost in between.
   */
  attachChatTransport(t: Transport): void {
    const old = this.chat;
    this.chat = t;
    if (old) old.close(1000, "replaced");
    t.onframe = (f) => {
      if (this.chat !== t) return;
      // lastFrameAt is left alone: it measures the WebSocket's liveness.
      this.handle(f);
      this.notify();
    };
    t.onclose = () => {
      if (this.chat !== t) return;
      this.chat = null;
      this.sentAt.clear();
      this.resuming.clear();
      const want: Record<string, number> = {};
      for (const [id, log] of this.conversations) want[id] = log.lastContiguous;
      this.resume(want);
      this.flush();
      this.notify();
    };
    this.flush();
    this.notify();
  }

  /** start connects and keeps reconnecting until stop. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.ticker = setInterval(() => this.tick(), 1000);
    if (typeof window !== "undefined") window.addEventListener("online", this.onNetworkBack);
    void this.connect();
  }

  /** stop closes the connection for good (sign-out, page teardown). */
  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.ticker) clearInterval(this.ticker);
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    this.forgetResumes();
    this.forgetReorderTimers();
    if (typeof window !== "undefined") window.removeEventListener("online", this.onNetworkBack);
    const t = this.transport;
    this.transport = null;
    t?.close(1000, "client stopped");
    const chat = this.chat;
    this.chat = null;
    chat?.close(1000, "client stopped");
  }

  /** drop closes the connection as if the network failed; the client
   * reconnects by itself. For tests and diagnostics. */
  drop(): void {
    this.transport?.close(4000, "dropped");
  }

  /**
   * send queues a chat message and sends it as soon as the client is online.
   * conversation null (visitor only) starts a conversation first. Returns
   * the message's client_id.
   */
  send(conversation: string | null, body: string): string {
    const item: OutboxItem = {
      client_id: newClientID(),
      conversation,
      body,
      created_at: new Date().toISOString(),
    };
    this.outbox.push(item);
    this.saveOutbox();
    if (conversation) this.stopTyping(conversation);
    this.transmit(item);
    this.notify();
    return item.client_id;
  }

  /**
   * setOwner says whose outbox this is once the server has told (a visitor
   * learns its id from the session). When the identity changed (an expired
   * token made a new visitor), the waiting messages cannot go to the old
   * visitor's conversations; they start a new one instead of being lost.
   */
  setOwner(id: string): void {
    if (this.opts.owner === id) return;
    if (this.opts.owner) {
      for (const item of this.outbox) {
        item.conversation = null;
        delete item.failed;
      }
    }
    this.opts.owner = id;
    this.saveOutbox();
    this.notify();
  }

  /** retry sends a refused message again (same client_id). */
  retry(clientID: string): void {
    const item = this.outbox.find((i) => i.client_id === clientID);
    if (!item) return;
    delete item.failed;
    this.retryCount.delete(clientID);
    this.saveOutbox();
    this.transmit(item);
    this.notify();
  }

  /** clearError forgets lastError (the user dismissed it). */
  clearError(): void {
    this.lastError = null;
    this.notify();
  }


  /** setPageHidden tells the visitor's agent that the page is hidden
   * (away) or shown again (online); said again after every reconnect,
   * since a new connection starts online. */
  setPageHidden(hidden: boolean): void {
    if (this.pageHidden === hidden) return;
    this.pageHidden = hidden;
    this.write({ type: "status", ref: newClientID(), status: hidden ? "away" : "online" });
  }
  private pageHidden = false;


  /** noteTyping is called on every change to the composer with its text;
   * it sends typing on at most every few seconds, and typing off once the
   * user pauses or at once when the box is emptied (the other side would
   * otherwise show "is typing" for seconds after it was cleared). */
  noteTyping(conversation: string, text: string): void {
    if (text.trim() === "") {
      this.stopTyping(conversation);
      return;
    }
    const now = Date.now();
    this.typingKeyAt.set(conversation, now);
    const last = this.typingSentAt.get(conversation) ?? 0;
    if (now - last >= TYPING_RESEND_MS && this.write({ type: "typing", conversation, on: true })) {
      this.typingSentAt.set(conversation, now);
    }
  }

  /** stopTyping tells the other side the user stopped typing. */
  stopTyping(conversation: string): void {
    this.typingKeyAt.delete(conversation);
    if (this.typingSentAt.delete(conversation)) this.write({ type: "typing", conversation, on: false });
  }

  /** items is the conversation as shown: stored messages in seq order
   * (without notices meant for the other side: Message.audience), then
   * the pending ones in the order they were sent. null lists a visitor's
   * messages that wait for a conversation to be started. */
  items(conversation: string | null): ChatItem[] {
    const out: ChatItem[] = [];
    const log = conversation ? this.conversations.get(conversation) : undefined;
    for (const m of log?.messages() ?? []) {
      // A notice worded for the other side is not shown here.
      if (m.audience && m.audience !== this.opts.role) continue;
      // The stored message as it is (author, body, sources, attachment,
      // notice…), with this side's translation.
      out.push({
        ...m,
        key: "s" + m.seq,
        pending: false,
        failed: null,
        translation: this.translations.get(conversation + ":" + m.seq),
      });
    }
    const d = conversation ? this.drafts.get(conversation) : undefined;
    if (d) {
      out.push({
        key: "d" + d.client_id,
        seq: null,
        pending: false,
        failed: null,
        client_id: d.client_id,
        author: { kind: "assistant", id: "", name: "" },
        body: d.text,
        sent_at: new Date().toISOString(),
        draft: true,
      });
    }
    const me: Author = this.self ?? { kind: this.opts.role, id: "", name: "" };
    for (const i of this.outbox) {
      if (i.conversation !== conversation) continue;
      out.push({
        key: "c" + i.client_id,
        seq: null,
        pending: true,
        failed: i.failed ?? null,
        client_id: i.client_id,
        author: me,
        body: i.body,
        sent_at: i.created_at,
      });
    }
    return out;
  }

  /** markRead tells the server this side has shown the conversation's
   * messages up to seq (a read receipt); only a cursor that moves is sent. */
  markRead(conversation: string, seq: number): void {
    const log = this.conversations.get(conversation);
    if (!log || seq < 1) return;
    const key = this.opts.role === "visitor" ? "visitor_read_seq" : "agent_read_seq";
    if (seq <= (log.info[key] ?? 0) || seq <= (this.readSent.get(conversation) ?? 0)) return;
    if (this.write({ type: "read", conversation, seq })) this.readSent.set(conversation, seq);
  }

  /** typingIn returns who is typing in a conversation, if anyone. */
  typingIn(conversation: string): Author | null {
    const t = this.typing.get(conversation);
    return t && t.until > Date.now() ? t.author : null;
  }

  // --- connection ---

  private onNetworkBack = (): void => {
    if (this.stopped || this.transport || !this.reconnectTimer) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    void this.connect();
  };

  private async connect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.stopped) return;
    let url: string;
    try {
      url = await this.opts.url(this.failures);
    } catch {
      this.failures++;
      this.scheduleReconnect(backoffDelay(this.failures));
      return;
    }
    if (this.stopped) return;
    let t: Transport;
    try {
      t = (this.opts.transport ?? ((u: string) => new WebSocketTransport(u)))(url);
    } catch {
      this.failures++;
      this.scheduleReconnect(backoffDelay(this.failures));
      return;
    }
    this.transport = t;
    const timeout = setTimeout(() => {
      if (this.transport === t && !this.online) t.close(4000, "connect timeout");
    }, CONNECT_TIMEOUT_MS);
    const sentResume = new Set<string>();
    t.onopen = () => {
      const resume: Record<string, number> = {};
      for (const [id, log] of this.conversations) {
        if (sentResume.size >= MAX_RESUME_TOPICS) break;
        resume[id] = log.lastContiguous;
        sentResume.add(id);
      }
      this.lastFrameAt = Date.now();
      t.send({ type: "hello", v: VERSION, resume: sentResume.size ? resume : undefined });
    };
    // Frames that arrive before welcome (a server that subscribes the
    // connection before it writes welcome) are applied after it, so a stale
    // welcome snapshot cannot undo them.
    let early: Frame[] | null = [];
    t.onframe = (f) => {
      if (this.transport !== t) return;
      this.lastFrameAt = Date.now();
      if (f.type === "welcome") {
        clearTimeout(timeout);
        this.onWelcome(f, sentResume);
        for (const fn of this.frameListeners) fn(f);
        const pending = early ?? [];
        early = null;
        for (const e of pending) this.handle(e);
      } else if (early && f.type !== "error" && f.type !== "pong") {
        early.push(f);
      } else {
        this.handle(f);
      }
      this.notify();
    };
    t.onclose = (info) => {
      clearTimeout(timeout);
      if (this.transport !== t) return;
      this.transport = null;
      this.onLost(info);
    };
  }

  private onLost(info: CloseInfo): void {
    const wasOnline = this.online;
    this.online = false;
    this.state = this.everOnline ? "reconnecting" : "connecting";
    this.resuming.clear();
    this.forgetResumes(); // the next hello resumes everything
    this.forgetReorderTimers(); // likewise; what is held stays held
    this.sentAt.clear();
    this.startRef = null;
    this.typingSentAt.clear();
    this.notify();
    if (this.stopped) return;
    if (!wasOnline) this.failures++;
    // A server that is shutting down says so (1001); another node can take
    // us at once, so only a little jitter spreads the herd.
    const delay =
      info.code === 1001 && this.failures === 0 ? Math.round(Math.random() * GOING_AWAY_MAX_MS) : backoffDelay(this.failures);
    this.scheduleReconnect(delay);
  }

  private scheduleReconnect(delay: number): void {
    if (this.stopped) return;
    this.state = this.everOnline ? "reconnecting" : "connecting";
    this.notify();
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private onWelcome(w: WelcomeFrame, resumed: Set<string>): void {
    this.online = true;
    if (this.everOnline) this.reconnects++;
    this.everOnline = true;
    this.failures = 0;
    this.state = "online";
    this.self = w.self;
    this.status = w.status ?? this.status;
    if (this.opts.role === "visitor" && this.pageHidden) this.write({ type: "status", ref: newClientID(), status: "away" });
    this.lastPingAt = Date.now();
    const want: Record<string, number> = {};
    for (const info of w.conversations ?? []) {
      this.upsert(info);
    }
    for (const [id, log] of this.conversations) {
      if (!resumed.has(id)) want[id] = log.lastContiguous;
      else this.resuming.add(id);
    }
    this.resume(want);
    this.flush();
  }

  // --- frames ---

  private handle(f: Frame): void {
    if (f.type === "message") {
      // Listeners get each message once, in seq order, when it is delivered.
      this.onMessage(f);
      return;
    }
    this.apply(f);
    this.emit(f);
  }

  private emit(f: Frame): void {
    for (const fn of this.frameListeners) {
      try {
        fn(f);
      } catch {
        // A listener's bug must not stop delivery.
      }
    }
  }

  private apply(f: Frame): void {
    switch (f.type) {
      case "ack":
        this.onAck(f);
        break;
      case "synced": {
        this.resuming.delete(f.conversation);
        for (const [ref, r] of this.resumes) {
          if (!r.ids.some((id) => this.resuming.has(id))) this.resumes.delete(ref);
        }
        const log = this.conversations.get(f.conversation);
        // Still short of what the server says it has: ask once more.
        if (log && log.lastContiguous < f.seq) this.resume({ [f.conversation]: log.lastContiguous });
        // Messages newer than the resume's snapshot may still wait above a
        // gap: they get a window of their own.
        else this.watchGap(f.conversation);
        break;
      }
      case "resync": {
        // The server's node lost the bus for a while and may have dropped
        // publications for us: resume everything from the store, as after
        // a reconnect, but on this connection (the data channel stays).
        for (const info of f.conversations ?? []) this.upsert(info);
        const want: Record<string, number> = {};
        for (const [id, log] of this.conversations) want[id] = log.lastContiguous;
        this.resume(want);
        break;
      }
      case "conversation":
        if (f.ref && f.ref === this.startRef) this.startRef = null;
        this.upsert(f.conversation, true);
        break;
      case "queue":
        this.queue.set(f.conversation, { position: f.position, estimated_wait_seconds: f.estimated_wait_seconds });
        break;
      case "typing": {
        if (!f.author || (this.self && f.author.id === this.self.id && f.author.kind === this.self.kind)) break;
        if (f.on) this.typing.set(f.conversation, { author: f.author, until: Date.now() + TYPING_SHOW_MS });
        else this.typing.delete(f.conversation);
        break;
      }
      case "read": {
        // A read receipt: this side's or the other's cursor moved.
        const log = this.conversations.get(f.conversation);
        if (!log) break;
        const key = f.side === "visitor" ? "visitor_read_seq" : "agent_read_seq";
        if (f.seq > (log.info[key] ?? 0)) log.info = { ...log.info, [key]: f.seq };
        this.notify();
        break;
      }
      case "error":
        this.onError(f);
        break;
      case "token":
        this.opts.onToken?.(f.token, f.expires_at);
        break;
      case "translation":
        // Both sides' translations travel on the conversation: each keeps
        // the ones meant for it.
        if (f.for !== this.opts.role) break;
        this.translations.set(f.conversation + ":" + f.seq, f.translation);
        this.notify();
        break;
      case "assistant_draft": {
        // A draft can come after its stored answer (they travel apart):
        // then it is stale, and would show the answer twice.
        const log = this.conversations.get(f.conversation);
        if (log?.info.status === "assistant" && !log.messages().some((m) => m.client_id === f.client_id)) {
          this.drafts.set(f.conversation, { client_id: f.client_id, text: f.text });
        }
        break;
      }
      default:
        break;
    }
  }


  protected upsert(info: ConversationInfo, fromFrame = false): void {
    const log = this.conversations.get(info.id);
    if (log) {
      // An older snapshot (say, a welcome taken before an assignment whose
      // frame already arrived) must not roll the state back.
      if (Date.parse(info.updated_at) < Date.parse(log.info.updated_at)) return;
      log.info = { ...info, last_seq: Math.max(info.last_seq ?? 0, log.info.last_seq) };
    } else {
      this.conversations.set(info.id, new ConversationLog({ ...info, last_seq: info.last_seq ?? 0 }));
      // First sight of a conversation: load its history.
      if (fromFrame) this.resume({ [info.id]: 0 });
    }
    if (info.status === "closed") {
      this.queue.delete(info.id);
      this.typing.delete(info.id);
    }
    if (info.status !== "queued") this.queue.delete(info.id);
    if (info.status !== "assistant") this.drafts.delete(info.id);
    if (this.opts.role === "visitor" && info.status !== "closed") {
      // The conversation the visitor's first messages were waiting for.
      let changed = false;
      for (const item of this.outbox) {
        if (item.conversation === null && !item.failed) {
          item.conversation = info.id;
          changed = true;
        }
      }
      if (changed) {
        this.saveOutbox();
        this.flush();
      }
    }
  }

  private onMessage(m: MessageFrame): void {
    if (!Number.isInteger(m.seq) || m.seq < 1) return;
    if (m.translation) this.translations.set(m.conversation + ":" + m.seq, m.translation);
    let log = this.conversations.get(m.conversation);
    if (!log) {
      // A placeholder until the conversation's own frame tells its state;
      // no updated_at, so that frame is never taken for an older one.
      log = new ConversationLog({
        id: m.conversation,
        status: "open",
        visitor_id: "",
        visitor_name: "",
        last_seq: 0,
        created_at: "",
        updated_at: "",
      });
      this.conversations.set(m.conversation, log);
    }
    if (log.has(m.seq)) {
      // A duplicate; the server's copy replaces the one made from an ack.
      log.add(m);
      return;
    }
    if (m.seq > log.lastContiguous + 1) {
      // Ahead of a gap: held (a second copy of a held one is dropped).
      let held = this.held.get(m.conversation);
      if (!held) this.held.set(m.conversation, (held = new Map()));
      if (!held.has(m.seq)) held.set(m.seq, m);
      this.watchGap(m.conversation);
      return;
    }
    this.deliver(log, m);
    this.release(log);
  }

  /** release delivers the held messages that no longer wait for a gap, in
   * seq order, and restarts or stops the reorder window. */
  private release(log: ConversationLog): void {
    const id = log.info.id;
    const held = this.held.get(id);
    if (held) {
      for (const seq of [...held.keys()].sort((a, b) => a - b)) {
        if (seq > log.lastContiguous + 1) break;
        const next = held.get(seq)!;
        held.delete(seq);
        if (log.has(seq)) log.add(next); // replaces an ack's copy
        else this.deliver(log, next);
      }
      if (held.size === 0) this.held.delete(id);
    }
    this.watchGap(id);
  }

  /** deliver adds the next message in seq order to the log and tells the
   * listeners. */
  private deliver(log: ConversationLog, m: MessageFrame): void {
    log.add(m);
    if (m.client_id) this.settle(m.client_id);
    if (this.drafts.get(m.conversation)?.client_id === m.client_id) this.drafts.delete(m.conversation);
    const t = this.typing.get(m.conversation);
    if (t && t.author.id === m.author.id) this.typing.delete(m.conversation);
    this.emit(m);
  }

  /**
   * watchGap starts the reorder window of a conversation that has a gap
   * (messages held above it, or an ack's copy of an own message stored
   * above it) and stops it once there is none. A gap still open when the
   * window ends asks for a resume, unless one is in flight: its synced
   * frame looks again.
   */
  private watchGap(id: string): void {
    const timer = this.reorderTimers.get(id);
    if (!this.hasGap(id)) {
      if (timer) clearTimeout(timer);
      this.reorderTimers.delete(id);
      return;
    }
    if (timer) return;
    this.reorderTimers.set(
      id,
      setTimeout(() => {
        this.reorderTimers.delete(id);
        const log = this.conversations.get(id);
        if (log && this.hasGap(id) && !this.resuming.has(id)) this.resume({ [id]: log.lastContiguous });
      }, REORDER_WINDOW_MS),
    );
  }

  private hasGap(id: string): boolean {
    const log = this.conversations.get(id);
    return !!log && (this.held.has(id) || log.highestSeq > log.lastContiguous);
  }

  private forgetReorderTimers(): void {
    for (const t of this.reorderTimers.values()) clearTimeout(t);
    this.reorderTimers.clear();
  }

  private onAck(a: AckFrame): void {
    const item = this.outbox.find((i) => i.client_id === a.client_id);
    if (!item) return;
    const log = this.conversations.get(a.conversation);
    // Show the message as sent right away; the server's own message frame
    // for this seq replaces this copy when it arrives.
    if (log && !log.has(a.seq) && this.self) {
      log.add({
        type: "message",
        conversation: a.conversation,
        seq: a.seq,
        client_id: a.client_id,
        author: this.self,
        body: item.body,
        sent_at: item.created_at,
      });
      // The copy may fill the gap below held messages, or sit above a
      // message not here yet (sent on another node).
      this.release(log);
    }
    this.settle(a.client_id);
  }

  /** settle removes a message the server has stored from the outbox. */
  private settle(clientID: string): void {
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((i) => i.client_id !== clientID);
    this.sentAt.delete(clientID);
    this.retryCount.delete(clientID);
    const t = this.retryTimers.get(clientID);
    if (t) clearTimeout(t);
    this.retryTimers.delete(clientID);
    if (this.outbox.length !== before) this.saveOutbox();
  }

  private onError(e: ErrorFrame): void {
    const item = e.ref ? this.outbox.find((i) => i.client_id === e.ref) : undefined;
    if (item) {
      this.sentAt.delete(item.client_id);
      if (e.retryable) {
        const n = (this.retryCount.get(item.client_id) ?? 0) + 1;
        this.retryCount.set(item.client_id, n);
        const wait = e.retry_after_ms && e.retry_after_ms > 0 ? e.retry_after_ms : backoffDelay(n);
        this.retryLater(item.client_id, wait);
      } else {
        item.failed = e.message || e.code;
        this.saveOutbox();
      }
      return;
    }
    const resume = e.ref ? this.resumes.get(e.ref) : undefined;
    if (resume) {
      this.resumes.delete(e.ref!);
      if (e.retryable) {
        const wait = e.retry_after_ms && e.retry_after_ms > 0 ? e.retry_after_ms : backoffDelay(resume.tries + 1);
        const timer = setTimeout(() => {
          this.resumeTimers.delete(timer);
          // From where each conversation is now; those synced meanwhile
          // (another resume, a reconnect) are not asked again.
          const want: Record<string, number> = {};
          for (const id of resume.ids) {
            const log = this.conversations.get(id);
            if (this.resuming.has(id) && log) want[id] = log.lastContiguous;
          }
          if (Object.keys(want).length > 0) this.sendResume(want, resume.tries + 1);
        }, wait);
        this.resumeTimers.add(timer);
      } else {
        // Refused for good (not_found): stop waiting, so a later gap asks
        // again.
        for (const id of resume.ids) this.resuming.delete(id);
        this.lastError = e;
      }
      return;
    }
    if (e.ref && e.ref === this.startRef) {
      this.startRef = null;
      if (e.retryable) {
        setTimeout(() => this.flush(), e.retry_after_ms && e.retry_after_ms > 0 ? e.retry_after_ms : 1000);
        return;
      }
    }
    this.lastError = e;
  }

  private retryLater(clientID: string, wait: number): void {
    const old = this.retryTimers.get(clientID);
    if (old) clearTimeout(old);
    this.retryTimers.set(
      clientID,
      setTimeout(() => {
        this.retryTimers.delete(clientID);
        const item = this.outbox.find((i) => i.client_id === clientID);
        if (item && !item.failed) this.transmit(item);
      }, wait),
    );
  }

  // --- sending ---

  protected write(f: Frame): boolean {
    if (this.chat && (f.type === "send" || f.type === "typing" || f.type === "resume") && this.chat.send(f)) return true;
    if (!this.online || !this.transport) return false;
    return this.transport.send(f);
  }

  protected resume(want: Record<string, number>): void {
    let batch: Record<string, number> = {};
    let n = 0;
    for (const [id, seq] of Object.entries(want)) {
      batch[id] = seq;
      this.resuming.add(id);
      if (++n === MAX_RESUME_TOPICS) {
        this.sendResume(batch, 0);
        batch = {};
        n = 0;
      }
    }
    if (n > 0) this.sendResume(batch, 0);
  }

  /** sendResume sends one resume frame with a ref of its own, so that the
   * server's refusal of it can be matched and the resume retried. */
  private sendResume(batch: Record<string, number>, tries: number): void {
    const ref = "resume-" + ++this.resumeRefs;
    this.resumes.set(ref, { ids: Object.keys(batch), tries });
    this.write({ type: "resume", ref, conversations: batch });
  }

  private forgetResumes(): void {
    for (const t of this.resumeTimers) clearTimeout(t);
    this.resumeTimers.clear();
    this.resumes.clear();
  }

  /** flush sends everything in the outbox that is not in flight. */
  private flush(): void {
    for (const item of this.outbox) {
      if (!item.failed && !this.sentAt.has(item.client_id) && !this.retryTimers.has(item.client_id)) this.transmit(item);
    }
  }

  private transmit(item: OutboxItem): void {
    if ((!this.online && !this.chat) || item.failed) return;
    if (item.conversation === null) {
      this.startConversation();
      return;
    }
    const ok = this.write({
      type: "send",
      ref: item.client_id,
      client_id: item.client_id,
      conversation: item.conversation,
      body: item.body,
    });
    if (ok) this.sentAt.set(item.client_id, Date.now());
  }

  private startConversation(): void {
    if (this.startRef) return;
    const active = [...this.conversations.values()].find((c) => c.info.status !== "closed");
    if (active) {
      this.upsert(active.info);
      return;
    }
    const ref = "start-" + newClientID();
    if (this.write({ type: "start", ref, trigger: this.trigger || undefined })) this.startRef = ref;
  }

  // --- housekeeping ---

  private tick(): void {
    const now = Date.now();
    let changed = false;
    if (this.online && this.transport) {
      if (now - this.lastFrameAt > SILENCE_LIMIT_MS) {
        // No pong for a long time: the connection is dead without knowing.
        this.drop();
        return;
      }
      if (now - this.lastPingAt >= PING_EVERY_MS) {
        this.lastPingAt = now;
        this.write({ type: "ping" });
      }
      for (const [id, at] of this.sentAt) {
        if (now - at < ACK_TIMEOUT_MS) continue;
        const item = this.outbox.find((i) => i.client_id === id);
        this.sentAt.delete(id);
        if (item) this.transmit(item);
      }
    }
    for (const [conv, at] of this.typingKeyAt) {
      if (now - at >= TYPING_IDLE_MS) this.stopTyping(conv);
    }
    for (const [conv, t] of this.typing) {
      if (t.until <= now) {
        this.typing.delete(conv);
        changed = true;
      }
    }
    if (changed) this.notify();
  }

  private saveOutbox(): void {
    const key = this.opts.outboxKey;
    if (!key) return;
    try {
      if (this.outbox.length === 0) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify({ owner: this.opts.owner ?? "", items: this.outbox }));
    } catch {
      // Storage may be blocked (third-party iframe, private mode): the
      // outbox still lives in memory for this page.
    }
  }

  protected notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const fn of this.listeners) fn();
    });
  }
}

function loadOutbox(key: string | undefined, owner: string | undefined): OutboxItem[] {
  if (!key) return [];
  try {
    const raw = localStorage.getItem(key);
    if (!raw) return [];
    const data = JSON.parse(raw) as { owner?: string; items?: OutboxItem[] };
    if ((data.owner ?? "") !== (owner ?? "")) return [];
    return (data.items ?? []).filter(
      (i) => typeof i.client_id === "string" && typeof i.body === "string" && (i.conversation === null || typeof i.conversation === "string"),
    );
  } catch {
    return [];
  }
}

/** The debug surface that browser tests and support staff read. */
export interface ParleyDebug {
  readonly transport: TransportKind;
  drop(): void;
  /** Why the last WebRTC attempt ended ("" if none did). */
  readonly rtcStop: string;
  /** Breaks the WebRTC peer connection as a failing network would. */
  dropDataChannel(): void;
  /** ICE restarts this page asked the relay for. */
  readonly iceRestarts: number;
  /** Typing frames sent and received on the unordered signals channel. */
  readonly signals: { sent: number; received: number };
  /** Takes the path of a disconnected connection: chat on the WebSocket
   * while the relay restarts ICE, then back on the same data channel. */
  restartIce(): void;
}

/** The WebRTC side as the debug surface sees it (rtc.ts WebRTCLink). */
export interface DebugRTC {
  readonly lastStop: string;
  readonly restarts: number;
  readonly signals: { sent: number; received: number };
  drop(): void;
  restartIce(): void;
}

/** exposeDebug publishes window.parleyDebug for the client. */
export function exposeDebug(client: LiveClient, rtc?: DebugRTC): ParleyDebug {
  const debug: ParleyDebug = {
    get transport() {
      return client.transportKind;
    },
    drop() {
      client.drop();
    },
    get rtcStop() {
      return rtc?.lastStop ?? "";
    },
    dropDataChannel() {
      rtc?.drop();
    },
    get iceRestarts() {
      return rtc?.restarts ?? 0;
    },
    get signals() {
      return { ...(rtc?.signals ?? { sent: 0, received: 0 }) };
    },
    restartIce() {
      rtc?.restartIce();
    },
  };
  (window as unknown as { parleyDebug: ParleyDebug }).parleyDebug = debug;
  return debug;
}
