// The widget's pre-chat choice: before the first message the visitor may
// pick what the chat is about (a team of the workspace); their conversation
// is then routed to that team (POST /api/widget/prechat).

import { useState } from "preact/hooks";
import { api } from "./shared/http";

function token(site: string): string {
  try {
    return localStorage.getItem(`parley:${site}:token`) ?? "";
  } catch {
    return "";
  }
}

export function PrechatChoice({ site, teams }: { site: string; teams: string[] }) {
  const [team, setTeam] = useState("");
  const [error, setError] = useState("");
  const choose = async (t: string) => {
    setTeam(t);
    setError("");
    try {
      await api("POST", "/api/widget/prechat", { token: token(site), team: t });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <label class="pw-prechat">
      What is it about?
      <select data-testid="prechat-team" value={team} onChange={(e) => void choose(e.currentTarget.value)}>
        <option value="">Anything</option>
        {teams.map((t) => (
          <option value={t}>{t}</option>
        ))}
      </select>
      {error && <span class="pw-error">{error}</span>}
    </label>
  );
}
