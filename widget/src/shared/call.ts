// Calls: a conversation's chat upgraded to voice or a screen share
// (docs/design/calls.md). Used by the widget and the agent app.
//
// The server rings and tracks calls (call / call_state frames over the
// WebSocket); media travels on the WebRTC link the chat already has
// (rtc.ts). When a call starts or ends the relay sends a new offer on that
// link; before answering, this module puts the microphone (voice) or the
// screen (a share this side makes) on the transceivers the server named in
// call_state.send, and turns every other call transceiver to receive-only.
// The data channel, and the chat, stay up throughout.

import type { CallStateFrame, Frame } from "../../../pkg/protocol/protocol";
import type { LiveClient } from "./client";
import { english, type Translate } from "./format";
import type { LinkStatus, MediaHooks, WebRTCLink } from "./rtc";

export type CallKind = "voice" | "screen";

/** NO_NETWORK is what the buttons say when WebRTC cannot connect here. */
export const NO_NETWORK = "Calls aren't possible on this network";
/** CONNECTING is what they say while the connection is being set up or
 * restored: no verdict on the network until it is known. */
export const CONNECTING = "Connecting… calls will be possible in a moment";

const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** CallView is what the UI shows for a conversation's call. */
export interface CallView {
  frame: CallStateFrame;
  /** This side muted its microphone. */
  muted: boolean;
  /** The other side muted theirs. */
  remoteMuted: boolean;
}

export class CallManager implements MediaHooks {
  /** Current calls (ringing or active) by call id. A conversation may
   * have a voice call and a screen share at once. */
  readonly calls = new Map<string, CallView>();
  /** The last call that ended, per conversation, until the next one. */
  readonly ended = new Map<string, CallStateFrame>();
  /** What went wrong with the last call action (shown by the buttons). */
  error = "";
  /** The other side's voice and its screen, each a stream of the live
   * tracks of that kind, or null when there are none. A new stream object
   * whenever the set of tracks changes: Chromium never starts an element
   * whose srcObject was an empty stream when a track is added to that
   * stream later, but it plays a stream that has the track when it is set
   * (issue 20). */
  remoteAudio: MediaStream | null = null;
  remoteScreen: MediaStream | null = null;
  private remoteTracks = new Set<MediaStreamTrack>();
  private mic: MediaStream | null = null;
  private screen: MediaStream | null = null;
  private listeners = new Set<() => void>();
  private refs = 0;
  private unlisten: () => void;

  constructor(
    private client: LiveClient,
    private link: WebRTCLink,
  ) {
    link.media = this;
    this.unlisten = client.listen((f) => this.onFrame(f));
  }

  stop(): void {
    this.unlisten();
    this.link.media = null;
    this.release("audio");
    this.release("video");
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }

  /** available says whether this side can take part in a call: its
   * WebRTC link to the relay is up. */
  get available(): boolean {
    return this.link.status === "open";
  }

  /** network is the link's status (rtc.ts): open, connecting (say
   * nothing about the network yet) or unavailable. */
  get network(): LinkStatus {
    return this.link.status;
  }

  /** unavailableText says why no call can start now. */
  get unavailableText(): string {
    return this.link.status === "unavailable" ? NO_NETWORK : CONNECTING;
  }

  /** of lists a conversation's current calls (voice first). */
  of(conversation: string): CallView[] {
    return [...this.calls.values()]
      .filter((v) => v.frame.conversation === conversation)
      .sort((a, b) => a.frame.kind.localeCompare(b.frame.kind) * -1);
  }

  /** state is the conversation's call state for the UI (and tests):
   * active if a call is, else ringing if one rings, else ended or none. */
  state(conversation: string): "active" | "ringing" | "ended" | "none" {
    const views = this.of(conversation);
    if (views.some((v) => v.frame.state === "active")) return "active";
    if (views.length > 0) return "ringing";
    return this.ended.has(conversation) ? "ended" : "none";
  }

  /** busy says whether the conversation has a call of that kind. */
  busy(conversation: string, kind: CallKind): boolean {
    return this.of(conversation).some((v) => v.frame.kind === kind);
  }

  /** start asks for a call. A screen share asks for the screen first (the
   * browser wants a click behind getDisplayMedia). */
  async start(conversation: string, kind: CallKind): Promise<void> {
    this.error = "";
    if (!this.available) {
      this.fail(this.unavailableText);
      return;
    }
    try {
      if (kind === "voice") await this.getMic();
      else {
        this.screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
        // The browser's own "Stop sharing" ends the share.
        this.screen.getVideoTracks()[0]?.addEventListener("ended", () => {
          const mine = this.of(conversation).find((v) => v.frame.kind === "screen");
          if (mine) this.hangUp(mine.frame.id);
        });
      }
    } catch (e) {
      this.fail(kind === "voice" ? "The microphone is not available: " + errText(e) : "Screen sharing was not started: " + errText(e));
      return;
    }
    this.action(conversation, "start", undefined, kind);
  }

  /** accept answers a ringing call (voice: with the microphone). */
  async accept(id: string): Promise<void> {
    const c = this.calls.get(id);
    if (!c) return;
    this.error = "";
    if (c.frame.kind === "voice") {
      try {
        await this.getMic();
      } catch (e) {
        this.fail("The microphone is not available: " + errText(e));
        this.action(c.frame.conversation, "decline", id);
        return;
      }
    }
    this.action(c.frame.conversation, "accept", id);
  }

  decline(id: string): void {
    const c = this.calls.get(id);
    if (c) this.action(c.frame.conversation, "decline", id);
  }

  hangUp(id: string): void {
    const c = this.calls.get(id);
    if (c) this.action(c.frame.conversation, "hangup", id);
  }

  /** toggleMute mutes or unmutes the microphone (the track keeps flowing
   * as silence, so unmuting needs no renegotiation). */
  toggleMute(id: string): void {
    const c = this.calls.get(id);
    if (!c) return;
    c.muted = !c.muted;
    for (const t of this.mic?.getAudioTracks() ?? []) t.enabled = !c.muted;
    this.action(c.frame.conversation, c.muted ? "mute" : "unmute", id);
    this.notify();
  }

  private action(conversation: string, action: string, id?: string, kind?: CallKind): void {
    const ref = "call:" + ++this.refs;
    const frame = { type: "call", ref, conversation, action, kind, id } as Frame;
    if (!this.client.sendControl(frame)) this.fail("Not connected; try again in a moment.");
  }

  private fail(msg: string): void {
    this.error = msg;
    if (!this.has("voice")) this.release("audio");
    if (!this.has("screen")) this.release("video");
    this.notify();
  }

  private has(kind: CallKind): boolean {
    return [...this.calls.values()].some((v) => v.frame.kind === kind);
  }

  private onFrame(f: Frame): void {
    if (f.type === "error" && f.ref?.startsWith("call:")) {
      // call_unavailable says why: this network, the other side's, or
      // (standalone relays) the two sides on different relays.
      this.fail(f.code === "call_unavailable" ? sentence(f.message) || NO_NETWORK : f.message);
      return;
    }
    if (f.type !== "call_state") return;
    if (f.state === "ended") {
      this.calls.delete(f.id);
      this.ended.set(f.conversation, f);
      if (!this.has(f.kind as CallKind)) this.release(f.kind === "voice" ? "audio" : "video");
    } else {
      const prev = this.calls.get(f.id);
      const self = this.client.self?.id;
      this.calls.set(f.id, {
        frame: f,
        muted: prev?.muted ?? false,
        remoteMuted: (f.muted ?? []).some((id) => id !== self),
      });
      this.ended.delete(f.conversation);
    }
    this.notify();
  }

  /** beforeAnswer puts this side's media on the transceivers the server
   * named and makes the others receive-only (MediaHooks). */
  async beforeAnswer(pc: RTCPeerConnection): Promise<void> {
    const send = new Set<string>();
    for (const c of this.calls.values()) if (c.frame.state === "active") for (const mid of c.frame.send ?? []) send.add(mid);
    for (const t of pc.getTransceivers()) {
      if (!t.mid || t.currentDirection === "stopped") continue;
      const kind = t.receiver.track.kind;
      const track = send.has(t.mid) ? (kind === "audio" ? this.mic?.getAudioTracks()[0] : this.screen?.getVideoTracks()[0]) : undefined;
      try {
        await t.sender.replaceTrack(track ?? null);
        t.direction = track ? "sendrecv" : "recvonly";
      } catch {
        // A transceiver the relay stopped: nothing to send on it.
      }
    }
  }

  onTrack(ev: RTCTrackEvent): void {
    const track = ev.track;
    // The relay reuses a transceiver for the next call: its track comes
    // again, and is already listened to.
    if (this.remoteTracks.has(track)) return;
    this.setRemote(track, true);
    track.addEventListener("ended", () => {
      this.setRemote(track, false);
      this.notify();
    });
    // A stopped call transceiver mutes its track rather than ending it.
    track.addEventListener("mute", () => this.notify());
    track.addEventListener("unmute", () => this.notify());
    this.notify();
  }

  onLinkChange(): void {
    this.notify();
  }

  /** remoteVideo says whether a screen from the other side is live. */
  get remoteVideo(): boolean {
    return (this.remoteScreen?.getVideoTracks() ?? []).some((t) => t.readyState === "live" && !t.muted);
  }

  /** setRemote adds or forgets one of the other side's tracks and makes
   * a new stream of its kind (see remoteAudio). */
  private setRemote(track: MediaStreamTrack, on: boolean): void {
    if (on === this.remoteTracks.has(track)) return;
    if (on) this.remoteTracks.add(track);
    else this.remoteTracks.delete(track);
    const tracks = [...this.remoteTracks].filter((t) => t.kind === track.kind);
    const stream = tracks.length > 0 ? new MediaStream(tracks) : null;
    if (track.kind === "audio") this.remoteAudio = stream;
    else this.remoteScreen = stream;
  }

  private async getMic(): Promise<void> {
    if (this.mic && this.mic.getAudioTracks().some((t) => t.readyState === "live")) return;
    this.mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  }

  /** release stops this side's microphone (audio) or screen (video) and
   * forgets the other side's tracks of that kind. */
  private release(kind: "audio" | "video"): void {
    const own = kind === "audio" ? this.mic : this.screen;
    for (const t of own?.getTracks() ?? []) t.stop();
    if (kind === "audio") this.mic = null;
    else this.screen = null;
    for (const t of [...this.remoteTracks]) if (t.kind === kind) this.setRemote(t, false);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** callSummary is the one-line text of a call's state, for the bars, in
 * the reader's words (tr). */
export function callSummary(v: CallView, selfID: string | undefined, tr: Translate = english): string {
  const f = v.frame;
  const screen = f.kind === "screen";
  if (f.state === "ringing") {
    if (!f.incoming) return tr(screen ? "Asking to share your screen…" : "Calling…");
    return tr(screen ? "{0} wants to share their screen" : "{0} is calling", f.caller.name);
  }
  if (screen) return f.caller.id === selfID ? tr("You are sharing your screen") : tr("{0} is sharing their screen", f.caller.name);
  return tr(v.remoteMuted ? "Voice call (the other side is muted)" : "Voice call");
}

/** endedText says how a call ended, for the bars, in the reader's words. */
export function endedText(f: CallStateFrame, tr: Translate = english): string {
  const screen = f.kind === "screen";
  switch (f.reason) {
    case "declined":
      return tr(screen ? "Screen share declined" : "Call declined");
    case "missed":
      return tr(screen ? "Screen share not answered" : "Call not answered");
    case "cancelled":
      return tr(screen ? "Screen share cancelled" : "Call cancelled");
    case "dropped":
      return tr(screen ? "Screen share dropped (connection lost)" : "Call dropped (connection lost)");
    case "elsewhere":
      return tr(screen ? "Screen share answered on another device" : "Call answered on another device");
  }
  return tr(screen ? "Screen share ended" : "Call ended");
}
