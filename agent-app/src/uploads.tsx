// The agent's files on their way (shared/uploads.ts: in order, one at a
// time, resent with the same client id after a cut, never stored twice):
// one queue for the page, shown as pending messages in each conversation.

import { useEffect, useState } from "preact/hooks";
import { UploadQueue, send, type Upload } from "@parley/shared/uploads";
import { cookie } from "@parley/shared/http";
import { fileSize } from "@parley/shared/format";
import type { LiveClient } from "@parley/shared/client";
import { errorText, t } from "./i18n";

const watchers = new Set<() => void>();

export const uploads = new UploadQueue(
  (u, progress) => send(`/api/conversations/${encodeURIComponent(u.conversation)}/attachments`, u, { "X-CSRF-Token": cookie("parley_csrf") }, progress),
  () => watchers.forEach((fn) => fn()),
);

/** useUploads re-renders on every change of the queue, which waits while
 * the live connection is down. */
export function useUploads(client: LiveClient): UploadQueue {
  const [, set] = useState(0);
  useEffect(() => {
    const fn = () => set((n) => n + 1);
    watchers.add(fn);
    return () => void watchers.delete(fn);
  }, []);
  useEffect(() => uploads.setOnline(client.state === "online"));
  return uploads;
}

/** PendingUploads are a conversation's files on their way: progress, or
 * why the server refused one (its words name the site's limit or types),
 * with Retry and Remove. */
export function PendingUploads({ conversation }: { conversation: string }) {
  return (
    <>
      {uploads.items.map((u: Upload) =>
        u.conversation !== conversation ? null : (
          <div key={u.client_id} class={"pa-msg pa-msg-own pa-msg-pending" + (u.failed ? " pa-msg-failed" : "")} data-testid="upload">
            <div class="pa-bubble">
              {u.name} ({fileSize(u.file.size)})
            </div>
            {u.failed ? (
              <div class="pa-msg-meta" role="alert" data-testid="upload-error">
                {t("msg.notSent", { reason: errorText(u.failed) })}{" "}
                <button type="button" class="pa-link" onClick={() => uploads.retry(u.client_id)}>
                  {t("common.retry")}
                </button>{" "}
                <button type="button" class="pa-link" onClick={() => uploads.remove(u.client_id)}>
                  {t("upload.remove")}
                </button>
              </div>
            ) : (
              <progress class="pa-upload-progress" max={u.file.size} value={u.sent} aria-label={t("upload.sending", { name: u.name })} />
            )}
          </div>
        ),
      )}
    </>
  );
}
