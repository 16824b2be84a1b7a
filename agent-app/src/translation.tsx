// A site's auto-translation provider (admins), on the Knowledge screen
// beside the assistant: off, Apertium (built in, offline, the pairs this
// server has), the site's own OpenAI-compatible endpoint, or the default
// (Apertium, then the assistant's endpoint). "Test" translates a sample
// through the settings on screen before they are saved. The API key is
// write-only: the server says only whether one is stored
// (pkg/service/http_translation.go).

import { useEffect, useState } from "preact/hooks";
import { api } from "@parley/shared/http";
import { type Key, errorText, t } from "./i18n";

interface Translation {
  provider: "default" | "off" | "apertium" | "openai";
  url: string;
  model: string;
  key_set: boolean;
  apertium: string[];
}

interface TestResult {
  ok: boolean;
  /** code names the class of failure (pkg/assistant/diagnose.go). */
  code?: string;
  error?: string;
  /** detail is the endpoint's own words, when it gave any. */
  detail?: string;
  sample?: string;
  text?: string;
  from?: string;
  to?: string;
  ms?: number;
}

type Note = { ok: boolean; text: string; detail?: string } | null;

// What to check for each class of failure the test reports.
const failures: Record<string, Key> = {
  unsupported: "translate.fail.unsupported",
  unreachable: "translate.fail.unreachable",
  timeout: "translate.fail.timeout",
  tls: "translate.fail.tls",
  auth: "translate.fail.auth",
  not_found: "translate.fail.not_found",
  rate_limited: "translate.fail.rate_limited",
  server_error: "translate.fail.server_error",
  rejected: "translate.fail.rejected",
  bad_response: "translate.fail.bad_response",
};

/** failed is what to tell the admin of a failed test: what to check, in
 * their language (the server's English words for a failure it did not
 * name), and the endpoint's own words. */
function failed(x: TestResult): Note {
  const key = x.code ? failures[x.code] : undefined;
  return { ok: false, text: key ? t(key) : t("translate.fail.other", { error: x.error ?? "" }), detail: x.detail || undefined };
}

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
      (e) => setNote({ ok: false, text: errorText(e) }),
    );
  }, [site]);
  if (!tr) return <p class="pa-muted">{note?.text ?? t("common.loading")}</p>;
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
      setNote({ ok: false, text: errorText(err) });
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
      setNote({ ok: true, text: x.translation.provider === "off" ? t("translate.savedOff") : t("admin.saved") });
    });
  };
  const test = () =>
    run(async () => {
      const x = await api<TestResult>("POST", path + "/test", body());
      setNote(x.ok ? { ok: true, text: t("translate.works", { from: x.from ?? "", to: x.to ?? "", ms: x.ms ?? 0, text: x.text ?? "" }) } : failed(x));
    });
  const pairs = tr.apertium.length ? tr.apertium.map((p) => p.replace(">", " → ")).join(", ") : t("translate.noPairs");
  return (
    <form class="pa-form-grid pa-kb-assistant" onSubmit={save} aria-label={t("translate.label")} data-testid="translation-settings">
      <h3>{t("translate.title")}</h3>
      <label>
        {t("admin.provider")}
        <select data-testid="translation-provider" value={tr.provider} onChange={(e) => set({ provider: e.currentTarget.value as Translation["provider"] })}>
          <option value="default">{t("translate.default")}</option>
          <option value="apertium">{t("translate.apertium")}</option>
          <option value="openai">{t("admin.openaiOption")}</option>
          <option value="off">{t("translate.off")}</option>
        </select>
      </label>
      {tr.provider === "openai" && (
        <fieldset>
          <legend>{t("admin.endpoint")}</legend>
          <label>
            {t("admin.apiUrl")}
            <input data-testid="translation-url" dir="ltr" placeholder="http://127.0.0.1:11434/v1" maxLength={500} value={tr.url} onInput={(e) => set({ url: e.currentTarget.value })} />
          </label>
          <label>
            {t("admin.model")}
            <input data-testid="translation-model" placeholder="llama3.2" maxLength={200} value={tr.model} onInput={(e) => set({ model: e.currentTarget.value })} />
          </label>
          <label>
            {t("admin.apiKey")}
            <input
              data-testid="translation-key"
              type="password"
              autoComplete="new-password"
              placeholder={tr.key_set ? t("admin.keySaved") : t("admin.keyNone")}
              value={key ?? ""}
              onInput={(e) => setKey(e.currentTarget.value || null)}
            />
          </label>
          {tr.key_set && (
            <label class="pa-check">
              <input type="checkbox" data-testid="translation-key-remove" checked={key === ""} onChange={(e) => setKey(e.currentTarget.checked ? "" : null)} />
              {t("admin.keyRemove")}
            </label>
          )}
        </fieldset>
      )}
      <p class="pa-muted pa-wide">{t("translate.help", { pairs })}</p>
      <div class="pa-form-actions">
        <button type="button" class="pa-btn-outline" data-testid="translation-test" disabled={busy || tr.provider === "off"} onClick={() => void test()}>
          {t("translate.test")}
        </button>
        <button type="submit" class="pa-btn" data-testid="translation-save" disabled={busy}>
          {t("common.save")}
        </button>
      </div>
      {note && (
        <div class="pa-wide" role={note.ok ? "status" : "alert"} data-testid="translation-note">
          {note.text}
          {note.detail && <div class="pa-muted">{t("translate.endpointSaid", { detail: note.detail })}</div>}
        </div>
      )}
    </form>
  );
}
