// UploadQueue sends the files a person attaches to a conversation, shared
// by the widget and the agent app. It keeps the delivery promise of
// messages for files:
//
//   - files go one at a time, in the order they were chosen;
//   - each has a client id from the moment it is queued; every attempt
//     sends that id, so a resend after a lost answer (a cut, a reconnect)
//     is found by the server, which stores one file and one message;
//   - while the live connection is down the queue waits (setOnline), and a
//     failure that may pass (no answer, 5xx, 429, an expired token) is retried with back-off;
//   - a refusal (too big, type not allowed) is kept, shown, and can be
//     retried or removed; the files behind it go on.
//
// Files live in memory: a page reload forgets the queue (the outbox of text
// messages survives reloads in localStorage, which cannot hold files).

import { ApiError } from "./http";
import { backoffDelay } from "./client";
import { newClientID } from "./uuid";

export interface Upload {
  client_id: string;
  conversation: string;
  file: Blob;
  name: string;
  /** Bytes sent so far in the current attempt. */
  sent: number;
  /** Set when the server refused the file for good. */
  failed?: ApiError;
}

/** Post sends one file (multipart: client_id and file); it rejects with
 * ApiError (status 0: no answer). */
export type Post = (u: Upload, progress: (sent: number) => void) => Promise<unknown>;

export class UploadQueue {
  items: Upload[] = [];
  private busy = false;
  private online = true;
  private tries = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private post: Post,
    private notify: () => void,
  ) {}

  /** add queues a file for a conversation and returns its client id. */
  add(conversation: string, file: File): string {
    const u: Upload = { client_id: newClientID(), conversation, file, name: file.name || "file", sent: 0 };
    this.items.push(u);
    this.changed();
    return u.client_id;
  }

  /** setOnline pauses the queue while the live connection is down and
   * resumes it at once when it is back. */
  setOnline(on: boolean): void {
    if (on === this.online) return;
    this.online = on;
    if (on) this.again();
  }

  /** retry sends a refused file again, with its client id. */
  retry(id: string): void {
    const u = this.items.find((i) => i.client_id === id);
    if (u) delete u.failed;
    this.changed();
  }

  /** remove forgets a refused file. */
  remove(id: string): void {
    this.items = this.items.filter((i) => i.client_id !== id || !i.failed);
    this.changed();
  }

  private again(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pump();
  }

  private changed(): void {
    this.notify();
    this.pump();
  }

  private async pump(): Promise<void> {
    const u = this.items.find((i) => !i.failed);
    if (this.busy || !this.online || this.timer || !u) return;
    this.busy = true;
    try {
      await this.post(u, (n) => {
        u.sent = n;
        this.notify();
      });
      this.items = this.items.filter((i) => i !== u);
      this.tries = 0;
    } catch (e) {
      const s = e instanceof ApiError ? e.status : 0;
      u.sent = 0;
      // 401: an expired token, which the live connection renews.
      if (s >= 400 && s < 500 && s !== 401 && s !== 408 && s !== 429) u.failed = e as ApiError;
      else this.timer = setTimeout(() => this.again(), backoffDelay(++this.tries));
    }
    this.busy = false;
    this.changed();
  }
}

/** send posts a file with XMLHttpRequest (fetch reports no upload
 * progress); headers carry the visitor's token or the agent's CSRF token. */
export function send(url: string, u: Upload, headers: Record<string, string>, progress: (sent: number) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("POST", url);
    for (const k in headers) x.setRequestHeader(k, headers[k]);
    x.upload.onprogress = (e) => progress(e.loaded);
    x.onerror = x.onabort = () => reject(new ApiError(0, "network", ""));
    x.onload = () => {
      let data: { error?: string; code?: string } = {};
      try {
        data = JSON.parse(x.responseText);
      } catch {
        // Not JSON: the status says enough.
      }
      if (x.status < 300) resolve(data);
      else reject(new ApiError(x.status, data.code ?? "http_" + x.status, data.error ?? "", data));
    };
    const form = new FormData();
    form.append("client_id", u.client_id);
    form.append("file", u.file, u.name);
    x.send(form);
  });
}
