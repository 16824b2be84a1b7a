// Search over the workspace's messages, notes, visitors and tags
// (GET /api/search). The server keys words, never stores them
// (pkg/store/search.go), and returns each hit with its conversation, so a
// result opens that conversation scrolled to the message, which is
// highlighted (MessageList's focus).

import { useState } from "preact/hooks";
import { api, errorMessage } from "@parley/shared/http";
import type { ConversationInfo } from "../../pkg/protocol/protocol";
import { type Key, t, time, tn } from "./i18n";

type Hit = {
  kind: "message" | "note" | "visitor" | "tag";
  conversation?: string;
  seq?: number;
  visitor_name?: string;
  author_kind?: string;
  author_name?: string;
  snippet: string;
  created_at: string;
};

type Result = {
  words: string[];
  messages: Hit[];
  notes: Hit[];
  visitors: Hit[];
  tagged: Hit[];
  conversations: ConversationInfo[];
};

/** fold lowers and strips accents as the server's index does, so the
 * snippet's words are found whatever their case or accents. */
const fold = (s: string) => s.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase();

/** Marked shows text with the query's words in <mark>. */
function Marked({ text, words }: { text: string; words: string[] }) {
  const parts = text.split(/([\p{L}\p{N}\p{M}]+)/u);
  return <>{parts.map((p, i) => (i % 2 === 1 && words.includes(fold(p)) ? <mark key={i}>{p}</mark> : p))}</>;
}

const kindLabel: Record<Hit["kind"], Key> = { message: "search.kind.message", note: "search.kind.note", visitor: "search.kind.visitor", tag: "search.kind.tag" };

export function SearchBox({ onOpen }: { onOpen: (info: ConversationInfo, seq: number) => void }) {
  const [q, setQ] = useState("");
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const run = (e: Event) => {
    e.preventDefault();
    if (!q.trim()) return;
    setBusy(true);
    api<Result>("GET", "/api/search?q=" + encodeURIComponent(q.trim()))
      .then((r) => {
        setResult(r);
        setError("");
      })
      .catch((err) => {
        setResult(null);
        setError(errorMessage(err));
      })
      .finally(() => setBusy(false));
  };
  const clear = () => {
    setQ("");
    setResult(null);
    setError("");
  };
  const hits = result ? [...result.messages, ...result.notes, ...result.visitors, ...result.tagged] : [];
  const open = (h: Hit) => {
    const info = result?.conversations.find((c) => c.id === h.conversation);
    if (info) onOpen(info, h.kind === "message" ? h.seq ?? 0 : 0);
  };
  return (
    <div class="pa-search">
      <form role="search" onSubmit={run}>
        <input
          type="search"
          class="pa-search-input"
          data-testid="search-input"
          aria-label={t("search.label")}
          placeholder={t("search.placeholder")}
          maxLength={200}
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") clear();
          }}
        />
      </form>
      {error && (
        <p class="pa-error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <div class="pa-search-results" data-testid="search-results" aria-live="polite">
          <div class="pa-search-summary">
            <span>{busy ? t("search.searching") : hits.length === 0 ? t("search.nothing") : tn("search.found", hits.length)}</span>
            <button type="button" class="pa-link" data-testid="search-clear" onClick={clear}>
              {t("search.close")}
            </button>
          </div>
          <ul class="pa-list">
            {hits.map((h, i) => (
              <li key={h.kind + i}>
                <button type="button" class="pa-search-hit" data-testid="search-result" data-kind={h.kind} disabled={!h.conversation} onClick={() => open(h)}>
                  <span class="pa-search-who">
                    <strong>{h.visitor_name || t("search.visitor")}</strong>
                    <span>
                      {t(kindLabel[h.kind])}
                      {h.author_kind === "agent" && h.author_name ? ` · ${h.author_name}` : ""} · {time(h.created_at)}
                    </span>
                  </span>
                  <span class="pa-search-snippet">
                    <Marked text={h.snippet} words={result.words} />
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
