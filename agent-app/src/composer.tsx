// The conversation's composer: a reply to the visitor or a private note
// to the team (never sent to the visitor), a draft per conversation kept
// in this browser across reloads (until sent or the agent signs out), and
// canned replies inserted with /shortcut. Files are attached with the
// button, by pasting an image, or by dropping them on the conversation
// (app.tsx); they go through the upload queue (uploads.tsx).

import { useEffect, useRef, useState } from "preact/hooks";
import { utf8Length } from "@parley/shared/format";
import { errorText, t } from "./i18n";
import { MAX_BODY_BYTES } from "../../pkg/protocol/protocol";
import { CannedPicker, type Canned, type Fill, fill, matches, useCanned } from "./canned";
import { addNote } from "./notes";

const DRAFT_PREFIX = "parley:draft:";

interface Draft {
  text: string;
  note: boolean;
}

function draftKey(agent: string, conversation: string): string {
  return `${DRAFT_PREFIX}${agent}:${conversation}`;
}

function loadDraft(key: string): Draft {
  try {
    const d = JSON.parse(localStorage.getItem(key) ?? "null") as Draft | null;
    if (d && typeof d.text === "string") return { text: d.text, note: !!d.note };
  } catch {
    // A broken draft is an empty one.
  }
  return { text: "", note: false };
}

function saveDraft(key: string, d: Draft) {
  try {
    if (d.text) localStorage.setItem(key, JSON.stringify(d));
    else localStorage.removeItem(key);
  } catch {
    // Storage full or off: the draft lives as long as the page.
  }
}

/** clearDrafts forgets every draft in this browser (on sign-out: a shared
 * computer must not show the next person what was being written). */
export function clearDrafts() {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i);
      if (k?.startsWith(DRAFT_PREFIX)) localStorage.removeItem(k);
    }
  } catch {
    // Nothing stored.
  }
}

/** The composer's note mode is switched from outside (the N shortcut)
 * through this event. */
export const NOTE_MODE_EVENT = "parley:note-mode";

export function Composer(props: {
  agent: string;
  conversation: string;
  fillWith: Fill;
  canReply: boolean;
  onSend: (body: string) => void;
  onTyping: (text: string) => void;
  /** Sends files to the visitor; absent when the agent cannot reply. */
  onFiles?: (files: File[]) => void;
}) {
  const { agent, conversation, fillWith, canReply, onSend, onTyping, onFiles } = props;
  const picker = useRef<HTMLInputElement>(null);
  const key = draftKey(agent, conversation);
  const [draft, setDraft] = useState<Draft>(() => {
    const d = loadDraft(key);
    return canReply ? d : { ...d, note: true };
  });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [active, setActive] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const canned = useCanned();
  const { text, note } = draft;
  const tooLong = utf8Length(text) > MAX_BODY_BYTES;
  // "/query" alone in the box (as Intercom and Chatwoot do) opens the picker.
  const slash = !note && /^\/(\S*)$/.exec(text);
  const picks = slash ? matches(canned, slash[1]) : [];

  const update = (d: Draft) => {
    setDraft(d);
    saveDraft(key, d);
  };
  useEffect(() => ref.current?.focus(), []);
  useEffect(() => {
    const on = () => {
      update({ ...draft, note: canReply ? !draft.note : true });
      ref.current?.focus();
    };
    addEventListener(NOTE_MODE_EVENT, on);
    return () => removeEventListener(NOTE_MODE_EVENT, on);
  });
  useEffect(() => setActive(0), [slash ? slash[1] : null]);

  const pick = (c: Canned) => {
    update({ ...draft, text: fill(c.body, fillWith) });
    ref.current?.focus();
  };
  const submit = async () => {
    const body = text.trim();
    if (!body || utf8Length(body) > MAX_BODY_BYTES || busy) return;
    setError("");
    if (note) {
      setBusy(true);
      try {
        await addNote(conversation, body);
        update({ text: "", note: true });
      } catch (e) {
        setError(t("composer.noteFailed", { error: errorText(e) }));
      } finally {
        setBusy(false);
      }
    } else {
      onSend(body);
      update({ text: "", note: false });
    }
    ref.current?.focus();
  };
  return (
    <form
      class={"pa-composer" + (note ? " pa-composer-note" : "")}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div class="pa-composer-modes" role="tablist" aria-label={t("composer.modes")}>
        <button
          type="button"
          role="tab"
          aria-selected={!note}
          class="pa-mode"
          data-testid="mode-reply"
          disabled={!canReply}
          onClick={() => update({ ...draft, note: false })}
        >
          {t("composer.reply")}
        </button>
        <button type="button" role="tab" aria-selected={note} class="pa-mode" data-testid="mode-note" onClick={() => update({ ...draft, note: true })}>
          {t("composer.note")}
        </button>
        {note && <span class="pa-mode-hint">{t("composer.noteHint")}</span>}
      </div>
      {tooLong && (
        <div class="pa-error" role="alert">
          {t(note ? "composer.noteTooLong" : "composer.messageTooLong", { max: MAX_BODY_BYTES })}
        </div>
      )}
      {error && (
        <div class="pa-error" role="alert">
          {error}
        </div>
      )}
      {slash && <CannedPicker items={picks} active={active} query={slash[1]} onPick={pick} />}
      <div class="pa-composer-box">
        <textarea
          ref={ref}
          data-testid="composer"
          aria-label={note ? t("composer.note") : t("composer.reply")}
          aria-expanded={slash ? true : undefined}
          aria-activedescendant={slash && picks[active] ? "canned-" + picks[active].id : undefined}
          placeholder={
            note ? t("composer.notePlaceholder") : t("composer.replyPlaceholder")
          }
          rows={3}
          value={text}
          onPaste={(e) => {
            // A pasted image (a screenshot) is sent as a file; a paste
            // that has text too (from a document) pastes the text.
            const files = [...(e.clipboardData?.files ?? [])];
            if (!onFiles || note || !files.length || e.clipboardData?.types.includes("text/plain")) return;
            e.preventDefault();
            onFiles(files);
          }}
          onInput={(e) => {
            const v = e.currentTarget.value;
            update({ ...draft, text: v });
            if (!note) onTyping(v);
          }}
          onKeyDown={(e) => {
            if (slash && picks.length > 0) {
              if (e.key === "ArrowDown" || e.key === "ArrowUp") {
                e.preventDefault();
                setActive((a) => (a + (e.key === "ArrowDown" ? 1 : picks.length - 1)) % picks.length);
                return;
              }
              if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
                e.preventDefault();
                pick(picks[active] ?? picks[0]);
                return;
              }
            }
            if (slash && e.key === "Escape") {
              e.preventDefault();
              update({ ...draft, text: "" });
              return;
            }
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <div class="pa-composer-actions">
          {onFiles && !note && (
            <>
              <input
                ref={picker}
                type="file"
                multiple
                hidden
                data-testid="attach-input"
                onChange={(e) => {
                  onFiles([...(e.currentTarget.files ?? [])]);
                  e.currentTarget.value = "";
                }}
              />
              <button type="button" class="pa-btn-outline pa-attach" data-testid="attach" title={t("composer.attachTitle")} onClick={() => picker.current?.click()}>
                <svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
                  <path d="m21 11-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7" />
                </svg>
                {t("composer.attach")}
              </button>
            </>
          )}
          <button type="submit" class="pa-btn" data-testid="send" disabled={!text.trim() || tooLong || busy || !!slash}>
            {note ? t("composer.addNote") : t("composer.send")}
          </button>
        </div>
      </div>
    </form>
  );
}
