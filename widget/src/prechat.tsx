// The widget's pre-chat choice: before the first message the visitor may
// pick what the chat is about, among the site's pre-chat choices an admin
// offered ("Sales", "Technical support", each needing a skill or team);
// nothing else, so no internal team name reaches visitors. The
// conversation is then routed accordingly (POST /api/widget/prechat).

import { useState } from "preact/hooks";
import { api } from "./shared/http";
import type { Availability } from "./offline";
import { t } from "./i18n";
import type { PrechatField } from "../../pkg/protocol/protocol";

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

/** The pre-chat form's answers, by field: name, email, phone, or a
 * custom field's label. */
export type PrechatValues = Record<string, string>;

const doneKey = (site: string) => `parley:${site}:prechat`;

/** prechatDone says whether this browser's visitor already filled in the
 * site's pre-chat form. */
export function prechatDone(site: string): boolean {
  try {
    return localStorage.getItem(doneKey(site)) === "1";
  } catch {
    return false;
  }
}

/** fieldLabel is a field's label in the visitor's language; a custom
 * field's is the site's own words. */
export function fieldLabel(f: PrechatField): string {
  const base = f.kind === "name" ? t("Your name") : f.kind === "email" ? t("Your email") : f.kind === "phone" ? t("Your phone") : f.label ?? "";
  return f.required ? base : t("{0} (optional)", base);
}

/** PrechatFields renders the site's fields as inputs (the pre-chat form
 * and the offline form share them). skip leaves out kinds the form asks
 * on its own. */
export function PrechatInputs({ fields, values, set, skip = [] }: { fields: PrechatField[]; values: PrechatValues; set: (v: PrechatValues) => void; skip?: string[] }) {
  return (
    <>
      {fields
        .filter((f) => !skip.includes(f.kind))
        .map((f) => {
          const key = f.kind === "custom" ? f.label ?? "" : f.kind;
          const label = fieldLabel(f);
          return (
            <input
              key={key}
              data-testid={"prechat-" + (f.kind === "custom" ? "custom" : f.kind)}
              aria-label={label}
              placeholder={label}
              type={f.kind === "email" ? "email" : f.kind === "phone" ? "tel" : "text"}
              autocomplete={f.kind === "name" ? "name" : f.kind === "email" ? "email" : f.kind === "phone" ? "tel" : "off"}
              required={f.required}
              maxLength={f.kind === "phone" ? 40 : 200}
              value={values[key] ?? ""}
              onInput={(e) => set({ ...values, [key]: e.currentTarget.value })}
            />
          );
        })}
    </>
  );
}

/** fieldsBody is the pre-chat answers as the API takes them. */
export function fieldsBody(fields: PrechatField[], values: PrechatValues) {
  const custom: Record<string, string> = {};
  for (const f of fields) if (f.kind === "custom" && f.label && values[f.label]?.trim()) custom[f.label] = values[f.label].trim();
  const v = (k: string) => values[k]?.trim() || undefined;
  return { name: v("name"), email: v("email"), phone: v("phone"), custom };
}

/** PrechatForm asks the site's pre-chat fields (and topic, when the site
 * offers some) before the first message; the answers become the visitor's
 * profile (POST /api/widget/prechat). */
export function PrechatForm({ site, fields, avail, onDone }: { site: string; fields: PrechatField[]; avail: Availability | null; onDone: () => void }) {
  const [values, setValues] = useState<PrechatValues>({});
  const [choice, setChoice] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await api("POST", "/api/widget/prechat", { token: token(site), choice, fields: fieldsBody(fields, values) });
      try {
        localStorage.setItem(doneKey(site), "1");
      } catch {
        // Asked again on the next page: no harm.
      }
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  const choices = avail?.choices ?? [];
  return (
    <form class="pw-offline pw-prechat-form" data-testid="prechat-form" onSubmit={submit}>
      <p>{t("Please tell us a little about you before we start.")}</p>
      <PrechatInputs fields={fields} values={values} set={setValues} />
      {choices.length > 0 && (
        <select data-testid="prechat-team" aria-label={t("What is it about?")} value={choice} onChange={(e) => setChoice(e.currentTarget.value)}>
          <option value="">{t("Anything")}</option>
          {choices.map((o) => (
            <option value={o}>{o}</option>
          ))}
        </select>
      )}
      {error && (
        <div class="pw-error" role="alert">
          {error}
        </div>
      )}
      <button type="submit" class="pw-btn" data-testid="prechat-submit" disabled={busy}>
        {t("Start the chat")}
      </button>
    </form>
  );
}
