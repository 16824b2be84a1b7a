// The agent's language picker (in the sidebar, under the status): the
// choice is saved on the server with the agent (i18n.choose) and the whole
// dashboard redraws in it.

import { useState } from "preact/hooks";
import { LANGUAGES, choose, chosen, errorText, t } from "./i18n";

export function LanguagePicker({ onChanged }: { onChanged: () => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <label class="pa-field">
      {t("lang.label")}
      <select
        data-testid="language"
        value={chosen}
        disabled={busy}
        onChange={async (e) => {
          const v = e.currentTarget.value;
          setBusy(true);
          try {
            await choose(v);
            setError("");
            onChanged();
          } catch (err) {
            setError(errorText(err));
          }
          setBusy(false);
        }}
      >
        <option value="">{t("lang.browser")}</option>
        {LANGUAGES.map(([tag, name]) => (
          <option key={tag} value={tag} lang={tag}>
            {name}
          </option>
        ))}
      </select>
      {error && (
        <span class="pa-error" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}
