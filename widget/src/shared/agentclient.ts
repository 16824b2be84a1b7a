// The agent's live client: what only the dashboard does (ending a
// conversation, setting its availability, opening a conversation no frame
// brought). Kept out of LiveClient so the visitor widget, which bundles the
// shared client, does not carry it (its size budget).
import type { ConversationInfo, MessageFrame } from "../../../pkg/protocol/protocol";
import { LiveClient } from "./client";
import { ConversationLog } from "./conversation";
import { newClientID } from "./uuid";

export class AgentClient extends LiveClient {
  /** close ends a conversation. */
  close(conversation: string): void {
    this.write({ type: "close", ref: newClientID(), conversation });
  }

  /** setStatus sets the agent's availability (online, away). */
  setStatus(status: string): void {
    this.status = status;
    this.write({ type: "status", ref: newClientID(), status });
    this.notify();
  }

  /** adopt makes a conversation known that no frame brought (an agent
   * opens an old or another agent's one from a list) and loads its
   * messages. */
  adopt(info: ConversationInfo): void {
    if (this.conversations.has(info.id)) return;
    this.upsert(info, true);
    this.notify();
  }

  /** tail: a conversation first seen loads at most its newest tail
   * messages; older ones come by addEarlier. */
  constructor(
    opts: ConstructorParameters<typeof LiveClient>[0],
    private readonly tail: number,
  ) {
    super(opts);
  }

  protected upsert(info: ConversationInfo, fromFrame = false): void {
    const skip = (info.last_seq ?? 0) - this.tail;
    if (skip > 0 && !this.conversations.has(info.id)) {
      const log = new ConversationLog(info);
      log.lastContiguous = skip; // held or deliberately not loaded
      this.conversations.set(info.id, log);
      if (fromFrame) this.resume({ [info.id]: skip });
    }
    super.upsert(info, fromFrame);
  }

  /** addEarlier adds older messages of a conversation read from its tail
   * first (the tail option; a history page): shown, not delivered as new. */
  addEarlier(conversation: string, messages: MessageFrame[]): void {
    const log = this.conversations.get(conversation);
    if (!log) return;
    const first = firstSeq(log);
    for (const m of messages) if (m.seq < first) log.add(m);
    this.notify();
  }
}

/** firstSeq is the lowest seq a log holds, or the next one to come when it
 * holds none. Above 1, older messages exist that are not loaded. */
export function firstSeq(log: ConversationLog): number {
  return log.messages()[0]?.seq ?? log.lastContiguous + 1;
}
