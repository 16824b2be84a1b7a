// Private notes and mentions. A note is read and written over HTTP
// (/api/conversations/:id/notes) and arrives live as a `note` frame on the
// agent's connection; it never takes a seq and is never sent to the
// visitor (pkg/store/notes.go). Notes are read again after every
// reconnect, so one published while the dashboard was offline shows too.

import { useEffect, useState } from "preact/hooks";
import type { LiveClient } from "@parley/shared/client";
import { api, errorMessage } from "@parley/shared/http";
import type { NoteInfo } from "../../pkg/protocol/protocol";
import { t, time, tn } from "./i18n";

/** useNotes returns a conversation's notes, kept current. */
export function useNotes(client: LiveClient, conversation: string): NoteInfo[] {
  const [notes, setNotes] = useState<NoteInfo[]>([]);
  const online = client.state === "online";
  useEffect(() => {
    if (!online) return;
    let live = true;
    api<{ notes: NoteInfo[] }>("GET", `/api/conversations/${encodeURIComponent(conversation)}/notes`)
      .then((r) => live && setNotes((old) => merge(old, r.notes)))
      .catch(() => {
        // Shown again on the next reconnect; messages still work.
      });
    return () => {
      live = false;
    };
  }, [conversation, online]);
  useEffect(
    () =>
      client.listen((f) => {
        if (f.type === "note" && f.note.conversation === conversation) setNotes((old) => merge(old, [f.note]));
      }),
    [client, conversation],
  );
  return notes;
}

function merge(old: NoteInfo[], add: NoteInfo[]): NoteInfo[] {
  const byID = new Map(old.map((n) => [n.id, n]));
  for (const n of add) byID.set(n.id, n);
  return [...byID.values()].sort((a, b) => a.after_seq - b.after_seq || a.created_at.localeCompare(b.created_at));
}

/** addNote writes a note; the server answers with it (and publishes it). */
export async function addNote(conversation: string, body: string): Promise<NoteInfo> {
  const r = await api<{ note: NoteInfo }>("POST", `/api/conversations/${encodeURIComponent(conversation)}/notes`, { body });
  return r.note;
}

/** NoteItem is a note in the transcript: yellow, marked private. */
export function NoteItem({ note, self }: { note: NoteInfo; self: string }) {
  return (
    <div class="pa-note" data-testid="note" role="note" aria-label={t("notes.by", { name: note.author.name })}>
      <div class="pa-note-head">
        {t("notes.head", { name: note.author.id === self ? t("common.you") : note.author.name })}
        <span class="pa-note-time">{time(note.created_at)}</span>
      </div>
      <div class="pa-note-body" data-testid="note-body">
        {note.body}
      </div>
    </div>
  );
}

/** notesAfter picks the notes placed after the message of seq (0: before
 * every message). */
export function notesAfter(notes: NoteInfo[], seq: number, nextSeq: number | null): NoteInfo[] {
  return notes.filter((n) => n.after_seq >= seq && (nextSeq === null || n.after_seq < nextSeq));
}

interface Mention extends NoteInfo {
  read: boolean;
}

/** Mentions lists the notes that name this agent, newest first, live;
 * opening the list marks them read. */
export function Mentions({ client, self, onOpen }: { client: LiveClient; self: string; onOpen: (conversation: string) => void }) {
  const [list, setList] = useState<Mention[]>([]);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  const online = client.state === "online";
  const load = () =>
    api<{ mentions: Mention[] }>("GET", "/api/mentions")
      .then((r) => {
        setList(r.mentions);
        setError("");
      })
      .catch((e) => setError(errorMessage(e)));
  useEffect(() => {
    if (online) void load();
  }, [online]);
  useEffect(
    () =>
      client.listen((f) => {
        if (f.type === "note" && f.note.mentions.includes(self) && f.note.author.id !== self) {
          setList((old) => (old.some((m) => m.id === f.note.id) ? old : [{ ...f.note, read: false }, ...old]));
        }
      }),
    [client, self],
  );
  const unread = list.filter((m) => !m.read).length;
  const toggle = () => {
    const next = !open;
    setOpen(next);
    if (next && unread) {
      api("POST", "/api/mentions/read")
        .then(() => setList((old) => old.map((m) => ({ ...m, read: true }))))
        .catch((e) => setError(errorMessage(e)));
    }
  };
  return (
    <div class="pa-mentions">
      <button type="button" class="pa-btn-ghost" data-testid="mentions" aria-expanded={open} onClick={toggle}>
        {t("side.mentions")}
        {unread > 0 && (
          <span class="pa-badge" data-testid="mentions-unread" aria-label={tn("inbox.unread", unread)}>
            {unread}
          </span>
        )}
      </button>
      {open && (
        <ul class="pa-mentions-list" aria-label={t("notes.mentionsList")}>
          {error && <li class="pa-error">{error}</li>}
          {list.length === 0 && !error && <li class="pa-empty-line">{t("notes.noMentions")}</li>}
          {list.map((m) => (
            <li key={m.id}>
              <button type="button" class={"pa-mention" + (m.read ? "" : " pa-mention-unread")} data-testid="mention" onClick={() => onOpen(m.conversation)}>
                <span class="pa-mention-who">
                  {m.author.name} · {time(m.created_at)}
                </span>
                <span class="pa-mention-body">{m.body}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** mentionsOf says whether a frame is a note that mentions self (by someone else). */
export function mentionsOf(f: { type: string; note?: NoteInfo }, self: string): boolean {
  return f.type === "note" && !!f.note && f.note.mentions.includes(self) && f.note.author.id !== self;
}
