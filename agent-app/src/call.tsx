// The agent's call controls for a conversation: the shared call bar
// (widget/src/shared/callbar.tsx) in the dashboard's look and words: call
// the visitor, share the agent's screen, answer the visitor's call or
// screen share, mute, hang up. The calls themselves are
// widget/src/shared/call.ts.

import { callSummary, type CallManager } from "@parley/shared/call";
import { CallBar, useCalls, type CallLook } from "@parley/shared/callbar";

const look: CallLook = {
  prefix: "pa",
  acceptClass: "pa-btn",
  declineClass: "pa-btn-outline",
  muteClass: "pa-btn-outline",
  hangUpClass: "pa-btn-outline pa-call-end",
  startClass: "pa-btn-outline",
  viewScreen: "View screen",
  stopScreen: "Stop screen",
  voiceTitle: "Call the visitor (voice)",
  screenTitle: "Share your screen with the visitor",
  screenLabel: "Share screen",
};

export function CallControls({ calls, conversation, selfID }: { calls: CallManager; conversation: string; selfID: string }) {
  return <CallBar calls={calls} conversation={conversation} selfID={selfID} voice look={look} />;
}

/** IncomingCalls rings for calls in conversations the agent is not
 * looking at; Open shows the conversation (with its Accept button). */
export function IncomingCalls({ calls, current, onOpen }: { calls: CallManager; current: string | null; onOpen: (id: string) => void }) {
  useCalls(calls);
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
