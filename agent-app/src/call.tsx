// The agent's call controls for a conversation: the shared call bar
// (widget/src/shared/callbar.tsx) in the dashboard's look and words: call
// the visitor, share the agent's screen, answer the visitor's call or
// screen share, mute, hang up. The calls themselves are
// widget/src/shared/call.ts.

import { callSummary, type CallManager } from "@parley/shared/call";
import { CallBar, useCalls, type CallLook } from "@parley/shared/callbar";
import { english } from "@parley/shared/format";
import { type Key, t } from "./i18n";

// The shared call bar and call.ts speak English texts with {0}
// placeholders (the widget's way); callWords are their keys here.
const callWords: Record<string, Key> = {
  "Call": "call.call",
  "Share screen": "call.share",
  "Call the visitor (voice)": "call.voiceTitle",
  "Share your screen with the visitor": "call.screenTitle",
  "View screen": "call.view",
  "Stop screen": "call.stop",
  "Accept": "call.accept",
  "Decline": "call.decline",
  "Cancel": "call.cancel",
  "Hang up": "call.hangUp",
  "Mute": "call.mute",
  "Unmute": "call.unmute",
  "Open": "call.open",
  "Turn on call sound": "call.sound",
  "You are sharing your screen": "call.youShare",
  "{0} is sharing their screen": "call.theyShare",
  "Asking to share your screen…": "call.asking",
  "Calling…": "call.calling",
  "{0} wants to share their screen": "call.wantsShare",
  "{0} is calling": "call.isCalling",
  "Voice call (the other side is muted)": "call.voiceMuted",
  "Voice call": "call.voice",
  "Screen share declined": "call.e.sDeclined",
  "Call declined": "call.e.declined",
  "Screen share not answered": "call.e.sMissed",
  "Call not answered": "call.e.missed",
  "Screen share cancelled": "call.e.sCancelled",
  "Call cancelled": "call.e.cancelled",
  "Screen share dropped (connection lost)": "call.e.sDropped",
  "Call dropped (connection lost)": "call.e.dropped",
  "Screen share answered on another device": "call.e.sElsewhere",
  "Call answered on another device": "call.e.elsewhere",
  "Screen share ended": "call.e.sEnded",
  "Call ended": "call.e.ended",
};

/** tr is the shared call code's translator for the dashboard. */
const tr = (s: string, ...args: (string | number)[]) => (callWords[s] ? t(callWords[s], { 0: args[0] ?? "" }) : english(s, ...args));

const look = (): CallLook => ({
  prefix: "pa",
  acceptClass: "pa-btn",
  declineClass: "pa-btn-outline",
  muteClass: "pa-btn-outline",
  hangUpClass: "pa-btn-outline pa-call-end",
  startClass: "pa-btn-outline",
  viewScreen: t("call.view"),
  stopScreen: t("call.stop"),
  voiceTitle: t("call.voiceTitle"),
  screenTitle: t("call.screenTitle"),
  screenLabel: t("call.share"),
  t: tr,
});

export function CallControls({ calls, conversation, selfID }: { calls: CallManager; conversation: string; selfID: string }) {
  return <CallBar calls={calls} conversation={conversation} selfID={selfID} voice look={look()} />;
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
          <span class="pa-call-text">{callSummary(v, undefined, tr)}</span>
          <button type="button" class="pa-btn" onClick={() => onOpen(v.frame.conversation)}>
            {t("call.open")}
          </button>
        </div>
      ))}
    </div>
  );
}
