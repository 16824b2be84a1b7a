// The widget's pre-chat choice: before the first message the visitor may
// pick what the chat is about. A site's own pre-chat choices ("Sales",
// "Technical support", each needing a skill or team) come first; a site
// without any offers the workspace's teams. The conversation is then routed
// accordingly (POST /api/widget/prechat).

import { useState } from "preact/hooks";
import { api } from "./shared/http";
import type { Availability } from "./offline";

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
  const byChoice = (avail.choices?.length ?? 0) > 0;
  const options = byChoice ? (avail.choices ?? []) : (avail.teams ?? []);
  const choose = async (v: string) => {
    setValue(v);
    setError("");
    try {
      await api("POST", "/api/widget/prechat", byChoice ? { token: token(site), choice: v } : { token: token(site), team: v });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <label class="pw-prechat">
      What is it about?
      <select data-testid="prechat-team" value={value} onChange={(e) => void choose(e.currentTarget.value)}>
        <option value="">Anything</option>
        {options.map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
      {error && <span class="pw-error">{error}</span>}
    </label>
  );
}
