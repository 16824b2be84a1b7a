// The agent's call controls for a conversation: call the visitor, ask to
// share the agent's screen, answer the visitor's call or screen share,
// mute, hang up. The visitor's voice plays in a hidden audio element, a
// screen the visitor shares shows in a video element. The calls themselves
// are widget/src/shared/call.ts.

import { useEffect, useState } from "preact/hooks";
import { CallManager, NO_NETWORK, callSummary, endedText, playStream } from "../../widget/src/shared/call";

/** MediaOut plays the visitor's stream. */
function MediaOut({ stream, video, testid }: { stream: MediaStream; video?: boolean; testid: string }) {
  return video ? (
    <video ref={(el) => playStream(el, stream)} data-testid={testid} autoplay playsInline muted />
  ) : (
    <audio ref={(el) => playStream(el, stream)} data-testid={testid} autoplay />
  );
}

export function CallControls({ calls, conversation, selfID }: { calls: CallManager; conversation: string; selfID: string }) {
  const [, set] = useState(0);
  useEffect(() => calls.subscribe(() => set((v) => v + 1)), [calls]);
  const views = calls.of(conversation);
  const ended = calls.ended.get(conversation);
  const available = calls.available;
  const state = calls.state(conversation);
  const viewing = views.some((v) => v.frame.kind === "screen" && v.frame.state === "active" && v.frame.caller.id !== selfID);
  return (
    <div class={"pa-call pa-call-" + state} data-testid="call-state" data-state={state}>
      <MediaOut stream={calls.remote} testid="remote-audio" />
      {viewing && calls.remoteVideo && <MediaOut stream={calls.remote} video testid="remote-video" />}
      {views.map((view) => (
        <div key={view.frame.id} class="pa-call-row" data-testid="call" data-kind={view.frame.kind} data-state={view.frame.state}>
          <span class="pa-call-text" aria-live="polite">
            {callSummary(view, selfID)}
          </span>
          {view.frame.state === "ringing" && view.frame.incoming ? (
            <>
              <button type="button" class="pa-btn" data-testid="call-accept" onClick={() => void calls.accept(view.frame.id)}>
                {view.frame.kind === "screen" ? "View screen" : "Accept"}
              </button>
              <button type="button" class="pa-btn-outline" data-testid="call-decline" onClick={() => calls.decline(view.frame.id)}>
                Decline
              </button>
            </>
          ) : (
            <>
              {view.frame.state === "active" && view.frame.kind === "voice" && (
                <button type="button" class="pa-btn-outline" data-testid="call-mute" aria-pressed={view.muted} onClick={() => calls.toggleMute(view.frame.id)}>
                  {view.muted ? "Unmute" : "Mute"}
                </button>
              )}
              <button type="button" class="pa-btn-outline pa-call-end" data-testid="call-hangup" onClick={() => calls.hangUp(view.frame.id)}>
                {view.frame.state === "ringing" ? "Cancel" : view.frame.kind === "screen" ? "Stop screen" : "Hang up"}
              </button>
            </>
          )}
        </div>
      ))}
      <div class="pa-call-row">
        {ended && views.length === 0 && (
          <span class="pa-call-text" data-testid="call-ended" data-reason={ended.reason}>
            {endedText(ended)}
          </span>
        )}
        {!calls.busy(conversation, "voice") && (
          <button
            type="button"
            class="pa-btn-outline"
            data-testid="call-voice"
            disabled={!available}
            title={available ? "Call the visitor (voice)" : NO_NETWORK}
            onClick={() => void calls.start(conversation, "voice")}
          >
            Call
          </button>
        )}
        {!calls.busy(conversation, "screen") && (
          <button
            type="button"
            class="pa-btn-outline"
            data-testid="call-screen"
            disabled={!available}
            title={available ? "Share your screen with the visitor" : NO_NETWORK}
            onClick={() => void calls.start(conversation, "screen")}
          >
            Share screen
          </button>
        )}
        {!available && <span class="pa-call-note">{NO_NETWORK}</span>}
      </div>
      {calls.error && (
        <div class="pa-call-error" role="alert" data-testid="call-error">
          {calls.error}
        </div>
      )}
    </div>
  );
}

/** IncomingCalls rings for calls in conversations the agent is not
 * looking at; Open shows the conversation (with its Accept button). */
export function IncomingCalls({ calls, current, onOpen }: { calls: CallManager; current: string | null; onOpen: (id: string) => void }) {
  const [, set] = useState(0);
  useEffect(() => calls.subscribe(() => set((v) => v + 1)), [calls]);
  const ringing = [...calls.calls.values()].filter((v) => v.frame.state === "ringing" && v.frame.incoming && v.frame.conversation !== current);
  if (ringing.length === 0) return null;
  return (
    <div class="pa-banner pa-call-ringing" role="status" data-testid="incoming-calls">
      {ringing.map((v) => (
        <div key={v.frame.id} class="pa-call-row">
          <span class="pa-call-text">{callSummary(v, undefined)}</span>
          <button type="button" class="pa-btn" onClick={() => onOpen(v.frame.conversation)}>
            Open
          </button>
        </div>
      ))}
    </div>
  );
}
