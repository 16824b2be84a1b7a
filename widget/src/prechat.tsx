// The widget's pre-chat choice: before the first message the visitor may
// pick what the chat is about, among the site's pre-chat choices an admin
// offered ("Sales", "Technical support", each needing a skill or team);
// nothing else, so no internal team name reaches visitors. The
// conversation is then routed accordingly (POST /api/widget/prechat).

import { useState } from "preact/hooks";
import { api } from "./shared/http";
import type { Availability } from "./offline";
import { t } from "./i18n";

function token(site: string): string {
  try {
    return localStorage.getItem(`parley:${site}:token`) ?? "";
  } catch {
    return "";
  }
}

export function PrechatChoice({ site, avail }: { site: string; avail: Availability }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const options = avail.choices ?? [];
  const choose = async (v: string) => {
    setValue(v);
    setError("");
    try {
      await api("POST", "/api/widget/prechat", { token: token(site), choice: v });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <label class="pw-prechat">
      {t("What is it about?")}
      <select data-testid="prechat-team" value={value} onChange={(e) => void choose(e.currentTarget.value)}>
        <option value="">{t("Anything")}</option>
        {options.map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
      {error && <span class="pw-error">{error}</span>}
    </label>
  );
}
