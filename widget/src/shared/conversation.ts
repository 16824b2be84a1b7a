// ConversationLog is what a client knows of one conversation: its state and
// the messages it has received, keyed by seq. It is pure bookkeeping (no I/O)
// so the delivery rules can be unit-tested: duplicates are dropped, the
// highest contiguous seq is tracked, and a gap is reported so the caller can
// ask the server to resume from the last contiguous seq.

import type { ConversationInfo, MessageFrame } from "../../../pkg/protocol/protocol";

/** What adding a message did. */
export type AddResult = "added" | "duplicate" | "gap";

export class ConversationLog {
  info: ConversationInfo;
  /** Highest seq n such that every seq 1..n is held. 0 when nothing is. */
  lastContiguous = 0;
  private bySeq = new Map<number, MessageFrame>();
  private top = 0;
  private sorted: MessageFrame[] | null = [];

  constructor(info: ConversationInfo) {
    this.info = info;
  }

  /** Number of messages held. */
  get size(): number {
    return this.bySeq.size;
  }

  /** Highest seq held (0 when none). May be above lastContiguous. */
  get highestSeq(): number {
    return Math.max(this.top, this.lastContiguous);
  }

  has(seq: number): boolean {
    return this.bySeq.has(seq);
  }

  /**
   * add stores a message. "duplicate" means its seq was already held (the
   * stored copy is replaced, so an authoritative server frame wins over a
   * locally made copy); "gap" means it was stored but some earlier seq is
   * missing, so the caller should resume from lastContiguous.
   */
  add(msg: MessageFrame): AddResult {
    if (!Number.isInteger(msg.seq) || msg.seq < 1) return "duplicate";
    const dup = this.bySeq.has(msg.seq);
    this.bySeq.set(msg.seq, msg);
    this.sorted = null;
    if (dup) return "duplicate";
    if (msg.seq > this.top) this.top = msg.seq;
    while (this.bySeq.has(this.lastContiguous + 1)) this.lastContiguous++;
    if (msg.seq > this.info.last_seq) this.info = { ...this.info, last_seq: msg.seq };
    return msg.seq > this.lastContiguous ? "gap" : "added";
  }

  /** Messages in seq order. The array is cached; do not mutate it. */
  messages(): MessageFrame[] {
    if (!this.sorted) this.sorted = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return this.sorted;
  }

  /** True when the server's last_seq says there are messages not yet held. */
  get missing(): boolean {
    return this.info.last_seq > this.lastContiguous;
  }

  /** The newest message held, if any. */
  last(): MessageFrame | undefined {
    const all = this.messages();
    return all[all.length - 1];
  }
}
