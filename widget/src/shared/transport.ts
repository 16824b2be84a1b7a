// A Transport carries protocol frames between a browser and the server. The
// live client (client.ts) speaks the same protocol over any of them, so the
// WebRTC data channel can be plugged in beside the WebSocket without the chat
// logic knowing which one delivered a frame.

import type { Frame } from "../../../pkg/protocol/protocol";

export type TransportKind = "websocket" | "datachannel";

/** Why a transport closed: a WebSocket close code (1006 when the network
 * dropped) and its reason text. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * Transport is one bidirectional frame pipe. Contract:
 * - onopen fires at most once, before any onframe;
 * - onclose fires exactly once, also when open never happened, also after
 *   close() was called by us; after it no other callback fires;
 * - send returns false (and drops the frame) unless the transport is open.
 */
export interface Transport {
  readonly kind: TransportKind;
  onopen: () => void;
  onframe: (frame: Frame) => void;
  onclose: (info: CloseInfo) => void;
  send(frame: Frame): boolean;
  close(code?: number, reason?: string): void;
}

/** WebSocketTransport is a Transport over one WebSocket connection. Frames
 * that are not JSON objects with a string "type" are dropped: a misbehaving
 * peer must not break the client. */
export class WebSocketTransport implements Transport {
  readonly kind = "websocket" as const;
  onopen: () => void = () => {};
  onframe: (frame: Frame) => void = () => {};
  onclose: (info: CloseInfo) => void = () => {};
  private ws: WebSocket;
  private closed = false;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.onopen = () => {
      if (!this.closed) this.onopen();
    };
    this.ws.onmessage = (ev: MessageEvent) => {
      if (this.closed || typeof ev.data !== "string") return;
      let frame: unknown;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && typeof frame === "object" && typeof (frame as { type?: unknown }).type === "string") {
        this.onframe(frame as Frame);
      }
    };
    this.ws.onclose = (ev: CloseEvent) => this.finish({ code: ev.code, reason: ev.reason });
    // An error is always followed by close; nothing to do here.
    this.ws.onerror = () => {};
  }

  send(frame: Frame): boolean {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  close(code = 1000, reason = ""): void {
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.close();
    }
    // Do not wait for the closing handshake: a dead network may never finish
    // it, and the client wants to reconnect now.
    this.finish({ code: 1006, reason: reason || "closed by client" });
  }

  private finish(info: CloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose(info);
  }
}
