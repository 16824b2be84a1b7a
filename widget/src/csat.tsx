// The rating a visitor gives a chat that ended: one tap on 1 to 5 stars
// stores it (POST /api/widget/csat), then an optional comment. The agent
// sees both in the conversation (agent app).

import { useState } from "preact/hooks";
import { api } from "./shared/http";
import { t } from "./i18n";

function token(site: string): string {
  try {
    return localStorage.getItem(`parley:${site}:token`) ?? "";
  } catch {
    return "";
  }
}

/** Rating asks how the chat went; rated is the rating already stored. */
export function Rating({ site, conversation, rated }: { site: string; conversation: string; rated: number }) {
  const [rating, setRating] = useState(rated);
  const [comment, setComment] = useState("");
  const [state, setState] = useState<"" | "sending" | "done">(rated ? "done" : "");
  const [error, setError] = useState("");
  const save = async (r: number, c?: string) => {
    setRating(r);
    setError("");
    setState("sending");
    try {
      await api("POST", "/api/widget/csat", { token: token(site), conversation, rating: r, comment: c });
      setState(c === undefined ? "" : "done");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setState("");
    }
  };
  if (state === "done") {
    return (
      <p class="pw-csat-done" data-testid="csat-thanks" role="status">
        {t("Thank you for your feedback!")}
      </p>
    );
  }
  return (
    <div class="pw-csat" data-testid="csat">
      <p id="pw-csat-q">{t("How was this chat?")}</p>
      <div class="pw-stars" role="group" aria-labelledby="pw-csat-q">
        {[1, 2, 3, 4, 5].map((n) => (
          <button
            type="button"
            class={"pw-star" + (n <= rating ? " pw-star-on" : "")}
            data-testid={"csat-" + n}
            aria-pressed={n === rating}
            aria-label={t("{0} out of 5", n)}
            disabled={state === "sending"}
            onClick={() => void save(n)}
          >
            ★
          </button>
        ))}
      </div>
      {rating > 0 && (
        <form
          class="pw-csat-comment"
          onSubmit={(e) => {
            e.preventDefault();
            void save(rating, comment.trim());
          }}
        >
          <textarea data-testid="csat-comment" aria-label={t("Anything to add? (optional)")} placeholder={t("Anything to add? (optional)")} rows={2} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          <button type="submit" class="pw-btn" data-testid="csat-send" disabled={state === "sending"}>
            {t("Send")}
          </button>
        </form>
      )}
      {error && (
        <p class="pw-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
