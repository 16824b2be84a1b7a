// The call bar both front ends show: start a voice call or a screen share,
// answer the other side's, mute, hang up; the other side's voice plays in a
// hidden audio element and a shared screen shows in a video element. The
// widget and the agent app differ only in classes and wording (CallLook),
// so the behaviour lives here once. The calls themselves are ./call.ts.
//
// This file imports preact, so an app that bundles it from outside widget/
// (the agent app) must resolve preact to its own copy: two copies break
// hooks. widget/tools/bundle.mjs does that for every build.

import { useEffect, useRef, useState } from "preact/hooks";
import { CallManager, NO_NETWORK, callSummary, endedText, type CallKind } from "./call";
import { english, type Translate } from "./format";

/** CallLook: what differs between the visitor's bar and the agent's. */
export interface CallLook {
  /** Class prefix: the bar is "<prefix>-call", its rows "<prefix>-call-row". */
  prefix: string;
  /** Classes of the buttons. */
  videoClass?: string;
  acceptClass: string;
  declineClass: string;
  muteClass: string;
  hangUpClass: string;
  startClass: string;
  /** Words: Accept on an offered screen share, Hang up on one's own. */
  viewScreen: string;
  stopScreen: string;
  /** Start buttons: titles and the screen button's label. */
  voiceTitle: string;
  screenTitle: string;
  screenLabel: string;
  /** t puts the bar's other words in the reader's language (English when
   * not given). */
  t?: Translate;
}

/** useCalls re-renders the component on every change to calls. */
export function useCalls(calls: CallManager): void {
  const [, set] = useState(0);
  useEffect(() => calls.subscribe(() => set((v) => v + 1)), [calls]);
}

/** play starts an element on its stream. A browser that refuses to play
 * sound before the person has used the page (autoplay policy) rejects with
 * NotAllowedError: blocked(true) then asks for a click, which may play. */
function play(el: HTMLMediaElement, blocked: (b: boolean) => void): void {
  el.play().then(
    () => blocked(false),
    // AbortError: a newer stream replaced this one, and plays itself.
    (e: unknown) => e instanceof DOMException && e.name === "NotAllowedError" && blocked(true),
  );
}

/** RemoteMedia shows the other side's voice (a hidden audio element) or
 * screen (a video element), started with play() each time the stream
 * changes, and offers a button when the browser will not play sound
 * without a click. */
function RemoteMedia({ stream, video, testid, class: cls, buttonClass, tr }: { stream: MediaStream | null; video?: boolean; testid: string; class?: string; buttonClass?: string; tr: Translate }) {
  const ref = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  const [blocked, setBlocked] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = stream;
    if (stream) play(el, setBlocked);
    else setBlocked(false);
  }, [stream]);
  const media = video ? <video ref={ref} class={cls} data-testid={testid} playsInline muted /> : <audio ref={ref} data-testid={testid} />;
  return (
    <>
      {media}
      {blocked && !video && (
        <button type="button" class={buttonClass} data-testid="call-sound" onClick={() => ref.current && play(ref.current, setBlocked)}>
          {tr("Turn on call sound")}
        </button>
      )}
    </>
  );
}

/** StartButton starts a call of one kind, disabled without a network. */
function StartButton(p: { calls: CallManager; conversation: string; kind: CallKind; look: CallLook; title: string; label: string }) {
  const available = p.calls.available;
  return (
    <button
      type="button"
      class={p.look.startClass}
      data-testid={"call-" + p.kind}
      disabled={!available}
      title={available ? p.title : (p.look.t ?? english)(p.calls.unavailableText)}
      onClick={() => void p.calls.start(p.conversation, p.kind)}
    >
      {p.label}
    </button>
  );
}

/** CallBar: voice says whether this side may start voice calls (it can
 * always answer the other side's, and share its screen). */
export function CallBar({ calls, conversation, selfID, voice, look }: { calls: CallManager; conversation: string; selfID: string | undefined; voice: boolean; look: CallLook }) {
  useCalls(calls);
  const views = calls.of(conversation);
  const ended = calls.ended.get(conversation);
  const state = calls.state(conversation);
  const c = look.prefix + "-call";
  const tr = look.t ?? english;
  const viewing = views.some((v) => v.frame.kind === "screen" && v.frame.state === "active" && v.frame.caller.id !== selfID);
  return (
    <div class={c + " " + c + "-" + state} data-testid="call-state" data-state={state}>
      <RemoteMedia stream={calls.remoteAudio} testid="remote-audio" buttonClass={look.acceptClass} tr={tr} />
      {viewing && calls.remoteVideo && <RemoteMedia stream={calls.remoteScreen} video class={look.videoClass} testid="remote-video" tr={tr} />}
      {views.map((view) => (
        <div key={view.frame.id} class={c + "-row"} data-testid="call" data-kind={view.frame.kind} data-state={view.frame.state}>
          <span class={c + "-text"} aria-live="polite">
            {callSummary(view, selfID, tr)}
          </span>
          {view.frame.state === "ringing" && view.frame.incoming ? (
            <>
              <button type="button" class={look.acceptClass} data-testid="call-accept" onClick={() => void calls.accept(view.frame.id)}>
                {view.frame.kind === "screen" ? look.viewScreen : tr("Accept")}
              </button>
              <button type="button" class={look.declineClass} data-testid="call-decline" onClick={() => calls.decline(view.frame.id)}>
                {tr("Decline")}
              </button>
            </>
          ) : (
            <>
              {view.frame.state === "active" && view.frame.kind === "voice" && (
                <button type="button" class={look.muteClass} data-testid="call-mute" aria-pressed={view.muted} onClick={() => calls.toggleMute(view.frame.id)}>
                  {tr(view.muted ? "Unmute" : "Mute")}
                </button>
              )}
              <button type="button" class={look.hangUpClass} data-testid="call-hangup" onClick={() => calls.hangUp(view.frame.id)}>
                {view.frame.state === "ringing" ? tr("Cancel") : view.frame.kind === "screen" ? look.stopScreen : tr("Hang up")}
              </button>
            </>
          )}
        </div>
      ))}
      <div class={c + "-row"}>
        {ended && views.length === 0 && (
          <span class={c + "-text"} data-testid="call-ended" data-reason={ended.reason}>
            {endedText(ended, tr)}
          </span>
        )}
        {voice && !calls.busy(conversation, "voice") && (
          <StartButton calls={calls} conversation={conversation} kind="voice" look={look} title={look.voiceTitle} label={tr("Call")} />
        )}
        {!calls.busy(conversation, "screen") && (
          <StartButton calls={calls} conversation={conversation} kind="screen" look={look} title={look.screenTitle} label={look.screenLabel} />
        )}
        {calls.network === "unavailable" && <span class={c + "-note"}>{tr(NO_NETWORK)}</span>}
      </div>
      {calls.error && (
        <div class={c + "-error"} role="alert" data-testid="call-error">
          {calls.error}
        </div>
      )}
    </div>
  );
}
