// The visitor's call bar: start a voice call or share the screen, answer
// the agent's call, mute, hang up; the agent's voice plays in a hidden
// audio element and a shared screen shows in a video element. The calls
// themselves are shared/call.ts.

import { useEffect, useState } from "preact/hooks";
import { CallManager, NO_NETWORK, callSummary, endedText, playStream } from "./shared/call";

function useCalls(calls: CallManager): void {
  const [, set] = useState(0);
  useEffect(() => calls.subscribe(() => set((v) => v + 1)), [calls]);
}

/** MediaOut plays the other side's stream. */
export function MediaOut({ stream, video, testid }: { stream: MediaStream; video?: boolean; testid: string }) {
  return video ? (
    <video ref={(el) => playStream(el, stream)} class="pw-call-video" data-testid={testid} autoplay playsInline muted />
  ) : (
    <audio ref={(el) => playStream(el, stream)} data-testid={testid} autoplay />
  );
}

/** CallBar: voice says whether the site lets visitors start voice calls
 * (they can always answer the agent's, and offer their screen). */
export function CallBar({ calls, conversation, selfID, voice }: { calls: CallManager; conversation: string; selfID: string | undefined; voice: boolean }) {
  useCalls(calls);
  const views = calls.of(conversation);
  const ended = calls.ended.get(conversation);
  const available = calls.available;
  const viewing = views.some((v) => v.frame.kind === "screen" && v.frame.state === "active" && v.frame.caller.id !== selfID);
  return (
    <div class={"pw-call pw-call-" + calls.state(conversation)} data-testid="call-state" data-state={calls.state(conversation)}>
      <MediaOut stream={calls.remote} testid="remote-audio" />
      {viewing && calls.remoteVideo && <MediaOut stream={calls.remote} video testid="remote-video" />}
      {views.map((view) => (
        <div key={view.frame.id} class="pw-call-row" data-testid="call" data-kind={view.frame.kind} data-state={view.frame.state}>
          <span class="pw-call-text" aria-live="polite">
            {callSummary(view, selfID)}
          </span>
          {view.frame.state === "ringing" && view.frame.incoming ? (
            <>
              <button type="button" class="pw-call-btn pw-call-ok" data-testid="call-accept" onClick={() => void calls.accept(view.frame.id)}>
                Accept
              </button>
              <button type="button" class="pw-call-btn pw-call-no" data-testid="call-decline" onClick={() => calls.decline(view.frame.id)}>
                Decline
              </button>
            </>
          ) : (
            <>
              {view.frame.state === "active" && view.frame.kind === "voice" && (
                <button type="button" class="pw-call-btn" data-testid="call-mute" aria-pressed={view.muted} onClick={() => calls.toggleMute(view.frame.id)}>
                  {view.muted ? "Unmute" : "Mute"}
                </button>
              )}
              <button type="button" class="pw-call-btn pw-call-no" data-testid="call-hangup" onClick={() => calls.hangUp(view.frame.id)}>
                {view.frame.state === "ringing" ? "Cancel" : view.frame.kind === "screen" ? "Stop" : "Hang up"}
              </button>
            </>
          )}
        </div>
      ))}
      <div class="pw-call-row">
        {ended && views.length === 0 && (
          <span class="pw-call-text" data-testid="call-ended" data-reason={ended.reason}>
            {endedText(ended)}
          </span>
        )}
        {voice && !calls.busy(conversation, "voice") && (
          <button
            type="button"
            class="pw-call-btn"
            data-testid="call-voice"
            disabled={!available}
            title={available ? "Start a voice call" : NO_NETWORK}
            onClick={() => void calls.start(conversation, "voice")}
          >
            Call
          </button>
        )}
        {!calls.busy(conversation, "screen") && (
          <button
            type="button"
            class="pw-call-btn"
            data-testid="call-screen"
            disabled={!available}
            title={available ? "Show the agent your screen" : NO_NETWORK}
            onClick={() => void calls.start(conversation, "screen")}
          >
            Share my screen
          </button>
        )}
        {!available && <span class="pw-call-note">{NO_NETWORK}</span>}
      </div>
      {calls.error && (
        <div class="pw-call-error" role="alert" data-testid="call-error">
          {calls.error}
        </div>
      )}
    </div>
  );
}
