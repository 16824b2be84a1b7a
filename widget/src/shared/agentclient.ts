// The agent's live client: what only the dashboard does (ending a
// conversation, setting its availability, opening a conversation no frame
// brought). Kept out of LiveClient so the visitor widget, which bundles the
// shared client, does not carry it (its size budget).
import type { ConversationInfo } from "../../../pkg/protocol/protocol";
import { LiveClient } from "./client";
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
}
