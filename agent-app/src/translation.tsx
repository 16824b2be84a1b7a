// A site's auto-translation provider (admins), on the Knowledge screen
// beside the assistant: off, Apertium (built in, offline, the pairs this
// server has), the site's own OpenAI-compatible endpoint, or the default
// (Apertium, then the assistant's endpoint). "Test" translates a sample
// through the settings on screen before they are saved. The API key is
// write-only: the server says only whether one is stored
// (pkg/service/http_translation.go).

import { useEffect, useState } from "preact/hooks";
import { api, errorMessage as message } from "@parley/shared/http";

interface Translation {
  provider: "default" | "off" | "apertium" | "openai";
  url: string;
  model: string;
  key_set: boolean;
  apertium: string[];
}

interface TestResult {
  ok: boolean;
  error?: string;
  sample?: string;
  text?: string;
  from?: string;
  to?: string;
  ms?: number;
}

type Note = { ok: boolean; text: string } | null;

export function TranslationSettings({ site }: { site: string }) {
  const [tr, setTr] = useState<Translation | null>(null);
  // null: keep the stored key; "": remove it; else the new key.
  const [key, setKey] = useState<string | null>(null);
  const [note, setNote] = useState<Note>(null);
  const [busy, setBusy] = useState(false);
  const path = `/api/sites/${encodeURIComponent(site)}/translation`;
  useEffect(() => {
    api<{ translation: Translation }>("GET", path).then(
      (x) => setTr(x.translation),
      (e) => setNote({ ok: false, text: message(e) }),
    );
  }, [site]);
  if (!tr) return <p class="pa-muted">{note?.text ?? "Loading…"}</p>;
  const set = (patch: Partial<Translation>) => setTr({ ...tr, ...patch });
  const body = () => {
    const b: Record<string, unknown> = { provider: tr.provider, url: tr.url, model: tr.model };
    if (key !== null) b.key = key;
    return b;
  };
  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setNote(null);
    try {
      await what();
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  };
  const save = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const x = await api<{ translation: Translation }>("PUT", path, body());
      setTr(x.translation);
      setKey(null);
      setNote({ ok: true, text: x.translation.provider === "off" ? "Saved. Messages are not translated." : "Saved." });
    });
  };
  const test = () =>
    run(async () => {
      const x = await api<TestResult>("POST", path + "/test", body());
      setNote(
        x.ok
          ? { ok: true, text: `Works (${x.from} → ${x.to}, ${x.ms} ms): “${x.text}”` }
          : { ok: false, text: `Test failed: ${x.error}` },
      );
    });
  const pairs = tr.apertium.length ? tr.apertium.map((p) => p.replace(">", " → ")).join(", ") : "not installed on this server";
  return (
    <form class="pa-form-grid pa-kb-assistant" onSubmit={save} aria-label="Translation settings" data-testid="translation-settings">
      <h3>Auto-translation</h3>
      <label>
        Provider
        <select data-testid="translation-provider" value={tr.provider} onChange={(e) => set({ provider: e.currentTarget.value as Translation["provider"] })}>
          <option value="default">Default: Apertium, then the assistant's endpoint</option>
          <option value="apertium">Apertium only (built in, offline)</option>
          <option value="openai">OpenAI-compatible endpoint (a model server)</option>
          <option value="off">Off: messages go through as written</option>
        </select>
      </label>
      {tr.provider === "openai" && (
        <fieldset>
          <legend>OpenAI-compatible endpoint</legend>
          <label>
            API URL
            <input data-testid="translation-url" placeholder="http://127.0.0.1:11434/v1" maxLength={500} value={tr.url} onInput={(e) => set({ url: e.currentTarget.value })} />
          </label>
          <label>
            Model
            <input data-testid="translation-model" placeholder="llama3.2" maxLength={200} value={tr.model} onInput={(e) => set({ model: e.currentTarget.value })} />
          </label>
          <label>
            API key
            <input
              data-testid="translation-key"
              type="password"
              autoComplete="new-password"
              placeholder={tr.key_set ? "saved (type to replace)" : "none (a local server needs none)"}
              value={key ?? ""}
              onInput={(e) => setKey(e.currentTarget.value || null)}
            />
          </label>
          {tr.key_set && (
            <label class="pa-check">
              <input type="checkbox" data-testid="translation-key-remove" checked={key === ""} onChange={(e) => setKey(e.currentTarget.checked ? "" : null)} />
              Remove the saved key
            </label>
          )}
        </fieldset>
      )}
      <p class="pa-muted pa-wide">
        When a visitor and the agent routing gives them share no language, each reads the other translated, the original one click away. Apertium
        pairs here: {pairs}.
      </p>
      <div class="pa-form-actions">
        <button type="button" class="pa-btn-outline" data-testid="translation-test" disabled={busy || tr.provider === "off"} onClick={() => void test()}>
          Test
        </button>
        <button type="submit" class="pa-btn" data-testid="translation-save" disabled={busy}>
          Save
        </button>
      </div>
      {note && (
        <div class="pa-wide" role={note.ok ? "status" : "alert"} data-testid="translation-note">
          {note.text}
        </div>
      )}
    </form>
  );
}
