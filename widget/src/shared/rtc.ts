// WebRTC data channel for chat, beside the WebSocket (docs/API.md, rtc_*).
//
// After each welcome the client asks the server for a peer connection
// (rtc_start); the server's relay offers, this browser answers, candidates
// trickle both ways over the WebSocket. When the relay's "chat" channel
// opens it is attached to the LiveClient (attachChatTransport): sends,
// typing and resume go over it. Until then, and whenever it fails, chat
// stays on the WebSocket; LiveClient resends unacked messages and resumes
// when the channel closes, so nothing is lost or doubled.
//
// Retries: a channel that never opened (blocked UDP, no route) is retried
// after RETRY_FAILED_MS, doubling up to RETRY_MAX_MS; a channel that was
// open and broke is retried sooner (RETRY_BROKEN_MS, doubling). A server
// without WebRTC (rtc_stop "not enabled") is not asked again until reload.
//
// A connection that worked and goes disconnected or failed while the
// WebSocket lives is not dropped: chat moves to the WebSocket, the relay is
// asked for an ICE restart (rtc_start restart) and the same channel takes
// chat back once it carries frames again. Typing goes on the relay's
// unordered "signals" channel while it is open.

import type { Frame, ICEServer, RTCCandidateFrame, RTCOfferFrame } from "../../../pkg/protocol/protocol";
import type { LiveClient } from "./client";
import type { CloseInfo, Transport } from "./transport";

export interface WebRTCOptions {
  /** Give up (and stay on the WebSocket) when the channel is not open this
   * long after rtc_start. Default 5 s. */
  openTimeoutMs?: number;
  /** First retry after a failed attempt; doubles. Default 30 s. */
  retryFailedMs?: number;
  /** First retry after an open channel broke; doubles. Default 2 s. */
  retryBrokenMs?: number;
  /** Give up an ICE restart (and stay on the WebSocket) when the
   * connection is not back this long after asking for it. Default 15 s. */
  restartTimeoutMs?: number;
}

/** LinkStatus: see WebRTCLink.status. */
export type LinkStatus = "open" | "connecting" | "unavailable";

/** MediaHooks let calls (call.ts) use the link's peer connection: the
 * relay renegotiates it to add or stop a call's tracks (it always offers),
 * and the answer must carry this browser's microphone or screen. */
export interface MediaHooks {
  /** Runs after a renegotiation offer is applied, before the answer. */
  beforeAnswer(pc: RTCPeerConnection): Promise<void>;
  /** A track from the relay (the other side's voice or screen). */
  onTrack(ev: RTCTrackEvent): void;
  /** The data channel opened or closed: calls are possible or not. */
  onLinkChange(): void;
}

const OPEN_TIMEOUT_MS = 5_000;
const RETRY_FAILED_MS = 30_000;
const RETRY_BROKEN_MS = 2_000;
const RETRY_MAX_MS = 300_000;
const RESTART_TIMEOUT_MS = 15_000;

/** DataChannelTransport is a Transport over an open RTCDataChannel. It
 * owns the peer connection: closing one closes the other. */
export class DataChannelTransport implements Transport {
  readonly kind = "datachannel" as const;
  onopen: () => void = () => {};
  onframe: (frame: Frame) => void = () => {};
  onclose: (info: CloseInfo) => void = () => {};
  /** onended fires with onclose; the negotiator's own hook (LiveClient
   * takes onclose). */
  onended: () => void = () => {};
  private closed = false;
  /** Frames that arrived before release(): the relay may send as soon as
   * its side is open, before this side has attached the channel. */
  private early: Frame[] | null = [];
  /** Set while suspended: called once when a frame arrives. */
  private onwake: (() => void) | null = null;
  /** The relay's unordered, unreliable "signals" channel: typing only. */
  private sig: RTCDataChannel | null = null;

  constructor(
    private pc: RTCPeerConnection,
    private dc: RTCDataChannel,
    private stats: SignalStats = { sent: 0, received: 0 },
  ) {
    dc.onmessage = (ev: MessageEvent) => this.receive(ev, false);
    dc.onclose = () => this.finish({ code: 1006, reason: "data channel closed" });
    dc.onerror = () => {};
  }

  /** setSignals adds the relay's signals channel: typing goes there while
   * it is open (a lost one is superseded by the next), and typing that
   * comes on it is applied like the chat channel's. */
  setSignals(sig: RTCDataChannel): void {
    this.sig = sig;
    sig.onmessage = (ev: MessageEvent) => this.receive(ev, true);
    sig.onerror = () => {};
  }

  private receive(ev: MessageEvent, signal: boolean): void {
    if (this.closed || typeof ev.data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object" || typeof (frame as { type?: unknown }).type !== "string") return;
    if (signal) {
      if ((frame as Frame).type !== "typing") return;
      this.stats.received++;
    }
    if (this.early) {
      this.early.push(frame as Frame);
      const wake = this.onwake;
      this.onwake = null;
      wake?.();
    } else this.onframe(frame as Frame);
  }

  /** release delivers the frames that arrived before the channel was
   * attached, then every frame as it comes. */
  release(): void {
    const early = this.early ?? [];
    this.early = null;
    this.onwake = null;
    for (const f of early) {
      if (this.closed) return;
      this.onframe(f);
    }
  }

  /** suspend hands chat back to the WebSocket (LiveClient resends and
   * resumes) but keeps the channel open: an ICE restart may bring it back.
   * Frames that arrive meanwhile are kept for the next attach (release),
   * and the first one calls onwake: the relay sends again, so the path is
   * back. */
  suspend(reason: string, onwake: () => void): void {
    if (this.closed) return;
    this.early ??= [];
    this.onwake = onwake;
    const closed = this.onclose;
    this.onframe = () => {};
    this.onclose = () => {};
    closed({ code: 1006, reason });
  }

  /** failed ends the transport because the connection under it failed. */
  failed(reason: string): void {
    this.finish({ code: 1006, reason });
  }

  send(frame: Frame): boolean {
    if (this.closed || this.dc.readyState !== "open") return false;
    if (frame.type === "typing" && this.sig?.readyState === "open") {
      try {
        this.sig.send(JSON.stringify(frame));
        this.stats.sent++;
        return true;
      } catch {
        // Closing: the chat channel takes it.
      }
    }
    try {
      this.dc.send(JSON.stringify(frame));
      return true;
    } catch {
      // Too big for the channel, or closing: the caller uses the WebSocket.
      return false;
    }
  }

  close(_code = 1000, reason = "closed by client"): void {
    this.finish({ code: 1000, reason });
  }

  private finish(info: CloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sig?.close();
      this.dc.close();
      this.pc.close();
    } catch {
      // Already closed.
    }
    this.onended();
    this.onclose(info);
  }
}

/** Typing frames on the signals channel, for diagnostics (parleyDebug). */
export interface SignalStats {
  sent: number;
  received: number;
}

/** WebRTCLink negotiates data channels for a LiveClient, for its lifetime. */
export class WebRTCLink {
  private opts: Required<WebRTCOptions>;
  private pc: RTCPeerConnection | null = null;
  private transport: DataChannelTransport | null = null;
  private pending: RTCIceCandidateInit[] = [];
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private breaks = 0;
  /** The open chat channel of the current connection, kept across an ICE
   * restart. */
  private chatChannel: RTCDataChannel | null = null;
  /** The chat transport while an ICE restart is under way. */
  private suspended: DataChannelTransport | null = null;
  /** An ICE restart is under way: chat is on the WebSocket meanwhile. */
  private restarting = false;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  /** ICE restarts asked for; for diagnostics (parleyDebug.iceRestarts). */
  restarts = 0;
  /** Typing frames over the signals channel (parleyDebug.signals). */
  readonly signals: SignalStats = { sent: 0, received: 0 };
  private disabled = false;
  private stopped = true;
  private unlisten: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  /** Why the last attempt ended; for diagnostics (parleyDebug.rtc). */
  lastStop = "";
  /** Calls on this link (call.ts), if any. */
  media: MediaHooks | null = null;

  constructor(
    private client: LiveClient,
    opts: WebRTCOptions = {},
  ) {
    this.opts = {
      openTimeoutMs: opts.openTimeoutMs ?? OPEN_TIMEOUT_MS,
      restartTimeoutMs: opts.restartTimeoutMs ?? RESTART_TIMEOUT_MS,
      retryFailedMs: opts.retryFailedMs ?? RETRY_FAILED_MS,
      retryBrokenMs: opts.retryBrokenMs ?? RETRY_BROKEN_MS,
    };
  }

  /** open says whether the data channel is up (or being restored by an
   * ICE restart): a call needs it. */
  get open(): boolean {
    return this.transport !== null || this.restarting;
  }

  /** status says what a call can expect of the link: open (a call can
   * start), connecting (the WebSocket or the link is being set up or
   * restored: no verdict yet), or unavailable (WebRTC is off on the
   * server, missing in this browser, or failed on this network after the
   * WebSocket was up). */
  get status(): LinkStatus {
    if (this.open) return "open";
    if (this.disabled || !WebRTCLink.supported()) return "unavailable";
    if (this.client.state !== "online" || this.pc || this.failures === 0) return "connecting";
    return "unavailable";
  }

  /** Supported says whether this browser can do WebRTC at all. */
  static supported(): boolean {
    return typeof RTCPeerConnection !== "undefined";
  }

  start(): void {
    if (!this.stopped || !WebRTCLink.supported()) return;
    this.stopped = false;
    this.unlisten = this.client.listen((f) => this.onFrame(f));
    let state = this.client.state;
    this.unsubscribe = this.client.subscribe(() => {
      // The WebSocket is gone: its server closed our peer; the next
      // welcome starts over.
      if (this.client.state !== "online" && this.pc) this.teardown();
      // The WebSocket's state is part of the link's status.
      if (this.client.state !== state) {
        state = this.client.state;
        this.media?.onLinkChange();
      }
    });
  }

  stop(): void {
    this.stopped = true;
    this.unlisten?.();
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.teardown();
  }

  /** drop closes the peer connection as a failing network would: chat
   * falls back to the WebSocket and WebRTC is retried later. For tests and
   * diagnostics. */
  drop(): void {
    const t = this.transport;
    if (t) t.failed("dropped");
    else if (this.pc) this.giveUp("dropped", true);
  }

  /** restartIce takes the path a disconnected or failed connection takes:
   * chat goes to the WebSocket, the relay is asked for an ICE-restart
   * offer, and the same channel takes chat back once connected. For tests
   * and diagnostics. */
  restartIce(): void {
    if (this.pc && this.chatChannel) this.askRestart(this.pc, "restart asked");
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case "welcome":
        // A new WebSocket connection: whatever peer we had belonged to the
        // old one.
        this.teardown();
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.attempt();
        break;
      case "rtc_offer":
        void this.onOffer(f);
        break;
      case "rtc_candidate":
        this.onCandidate(f);
        break;
      case "rtc_stop": {
        const reason = f.reason ?? "";
        this.lastStop = reason;
        if (reason.includes("not enabled")) {
          this.disabled = true;
          this.teardown();
          this.media?.onLinkChange();
          return;
        }
        this.giveUp(reason, false, this.transport !== null);
        break;
      }
    }
  }

  private attempt(): void {
    if (this.stopped || this.disabled || this.pc) return;
    if (!this.client.sendControl({ type: "rtc_start" })) return; // welcome retries
    this.openTimer = setTimeout(() => this.giveUp("data channel not open in time", true), this.opts.openTimeoutMs);
  }

  private async onOffer(o: RTCOfferFrame): Promise<void> {
    if (this.stopped || this.disabled) return;
    const cur = this.pc;
    const usable = cur && cur.remoteDescription && cur.connectionState !== "closed" && (cur.connectionState !== "failed" || this.restarting);
    if (cur && usable) {
      // The relay renegotiates the connection we have (a call's tracks
      // come or go, or an ICE restart): same connection, same data channel.
      try {
        await cur.setRemoteDescription({ type: "offer", sdp: o.sdp });
        await this.media?.beforeAnswer(cur);
        const answer = await cur.createAnswer();
        await cur.setLocalDescription(answer);
        if (this.pc === cur) this.client.sendControl({ type: "rtc_answer", sdp: cur.localDescription?.sdp ?? answer.sdp ?? "" });
      } catch {
        if (this.pc === cur) this.giveUp("renegotiation failed", true, true);
      }
      return;
    }
    this.teardown(true);
    let pc: RTCPeerConnection;
    try {
      pc = new RTCPeerConnection({
        iceServers: (o.ice_servers ?? []).map(iceServer),
        // "relay": the operator allows TURN paths only (PARLEY_ICE_TRANSPORT_POLICY).
        iceTransportPolicy: o.ice_transport_policy === "relay" ? "relay" : "all",
      });
    } catch {
      this.giveUp("cannot create a peer connection", true);
      return;
    }
    this.pc = pc;
    this.pending = [];
    pc.onicecandidate = (ev) => {
      if (this.pc !== pc) return;
      const c = ev.candidate;
      const frame: RTCCandidateFrame = c
        ? { type: "rtc_candidate", candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined, usernameFragment: c.usernameFragment ?? undefined }
        : { type: "rtc_candidate", candidate: "" };
      this.client.sendControl(frame);
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const state = pc.connectionState;
      if ((state === "disconnected" || state === "failed") && this.chatChannel && this.client.state === "online") {
        // It worked and the WebSocket is alive: ask the relay for an ICE
        // restart instead of dropping the connection.
        this.askRestart(pc, "connection " + state);
      } else if (state === "connected" && this.restarting) {
        this.restored(pc);
      } else if (state === "failed" || state === "closed") {
        this.giveUp("connection " + state, true);
      }
    };
    pc.ontrack = (ev) => {
      if (this.pc === pc) this.media?.onTrack(ev);
    };
    // The relay opens "chat" and "signals"; either may come first.
    let chatT: DataChannelTransport | null = null;
    let sigDC: RTCDataChannel | null = null;
    pc.ondatachannel = (ev) => {
      const dc = ev.channel;
      if (dc.label === "signals") {
        sigDC = dc;
        chatT?.setSignals(dc);
        return;
      }
      if (dc.label !== "chat") return;
      // Listen at once: frames may arrive before the open event.
      const t = new DataChannelTransport(pc, dc, this.signals);
      chatT = t;
      if (sigDC) t.setSignals(sigDC);
      let attached = false;
      const attach = () => {
        if (attached || this.pc !== pc) return;
        attached = true;
        if (this.openTimer) clearTimeout(this.openTimer);
        this.openTimer = null;
        this.transport = t;
        this.chatChannel = dc;
        this.failures = 0;
        const opened = Date.now();
        t.onended = () => {
          if (this.transport !== t && this.suspended !== t) return;
          this.transport = null;
          this.suspended = null;
          // Worked for a minute: the next break starts the back-off anew.
          if (Date.now() - opened > 60_000) this.breaks = 0;
          this.giveUp("data channel closed", true, true);
        };
        this.client.attachChatTransport(t);
        t.release();
        this.media?.onLinkChange();
      };
      if (dc.readyState === "open") attach();
      else dc.onopen = attach;
    };
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: o.sdp });
      for (const c of this.pending) await pc.addIceCandidate(c).catch(() => {});
      this.pending = [];
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (this.pc !== pc) return;
      this.client.sendControl({ type: "rtc_answer", sdp: pc.localDescription?.sdp ?? answer.sdp ?? "" });
    } catch {
      if (this.pc === pc) this.giveUp("negotiation failed", true);
    }
  }

  /** askRestart moves chat to the WebSocket and asks the relay for an ICE
   * restart of pc (once per outage); a restart that does not reconnect in
   * time is given up like a broken channel. */
  private askRestart(pc: RTCPeerConnection, reason: string): void {
    if (this.restarting || this.pc !== pc) return;
    this.restarting = true;
    this.restarts++;
    this.lastStop = reason;
    const t = this.transport;
    this.transport = null;
    this.suspended = t;
    t?.suspend(reason, () => this.restored(pc));
    // The new ICE path shows up as a new selected pair (the connection
    // state may stay "connected" throughout).
    const ice = pc.sctp?.transport.iceTransport;
    if (ice) ice.onselectedcandidatepairchange = () => this.restored(pc);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.pc === pc && this.restarting) this.giveUp("ICE restart did not reconnect", true, true);
    }, this.opts.restartTimeoutMs);
    if (!this.client.sendControl({ type: "rtc_start", restart: true })) this.giveUp("WebSocket gone", false, true);
  }

  /** restored hands chat back to the channel once the restarted
   * connection is up. */
  private restored(pc: RTCPeerConnection): void {
    if (!this.restarting || this.pc !== pc) return;
    const t = this.suspended;
    this.suspended = null;
    this.restarting = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (!t || this.chatChannel?.readyState !== "open") {
      this.giveUp("data channel closed", true, true);
      return;
    }
    // The same transport takes chat back (its onended still gives up).
    this.transport = t;
    this.client.attachChatTransport(t);
    t.release();
  }

  private onCandidate(f: RTCCandidateFrame): void {
    const pc = this.pc;
    if (!pc) return;
    const init: RTCIceCandidateInit = {
      candidate: f.candidate,
      sdpMid: f.sdpMid ?? "0",
      sdpMLineIndex: f.sdpMLineIndex ?? 0,
      usernameFragment: f.usernameFragment,
    };
    // Candidates that arrive before the offer is applied wait for it.
    if (!pc.remoteDescription) {
      this.pending.push(init);
      return;
    }
    void pc.addIceCandidate(f.candidate ? init : undefined).catch(() => {});
  }

  /** giveUp ends the current attempt, tells the server (tell), and
   * schedules the next one. */
  private giveUp(reason: string, tell: boolean, broke = false): void {
    const had = this.pc !== null;
    this.lastStop = reason;
    this.teardown();
    if (!had && !broke) return;
    if (tell) this.client.sendControl({ type: "rtc_stop", reason });
    if (this.stopped || this.disabled) return;
    let delay: number;
    if (broke) {
      delay = Math.min(RETRY_MAX_MS, this.opts.retryBrokenMs * 2 ** Math.min(this.breaks, 16));
      this.breaks++;
    } else {
      delay = Math.min(RETRY_MAX_MS, this.opts.retryFailedMs * 2 ** Math.min(this.failures, 16));
      this.failures++;
      this.media?.onLinkChange(); // a failure here: calls are unavailable
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.client.state === "online") this.attempt();
    }, delay);
  }

  /** teardown closes the peer; an attached channel closes with it, and
   * LiveClient falls back to the WebSocket. keepTimer keeps the open
   * timeout of the attempt under way (a new offer for it). */
  private teardown(keepTimer = false): void {
    if (this.openTimer && !keepTimer) {
      clearTimeout(this.openTimer);
      this.openTimer = null;
    }
    const pc = this.pc;
    const t = this.transport;
    const held = this.suspended;
    this.pc = null;
    this.transport = null;
    this.suspended = null;
    this.chatChannel = null;
    this.restarting = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.pending = [];
    if (t) t.close(1000, "webrtc stopped");
    if (held) {
      // Frames the relay sent after the restart, before we gave it up:
      // apply them, then close, so that LiveClient resumes once more.
      this.client.attachChatTransport(held);
      held.release();
      held.close(1000, "webrtc stopped");
    }
    try {
      pc?.close();
    } catch {
      // Already closed.
    }
    if (pc) this.media?.onLinkChange();
  }
}

function iceServer(s: ICEServer): RTCIceServer {
  return { urls: s.urls, username: s.username, credential: s.credential };
}
