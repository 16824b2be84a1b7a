// Two-factor sign-in (TOTP) for the signed-in agent: set it up with an
// authenticator app, keep the recovery codes, turn it off; admins also
// choose whether the workspace requires it of admins. The server side is
// pkg/service/http_totp.go.

import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorMessage as message } from "@parley/shared/http";
import { Dialog } from "./dialog";
import { t, tn } from "./i18n";

export interface TwoFactor {
  enabled: boolean;
  enrolment_required?: boolean;
  recovery_codes_left?: number;
}

/** TwoFactorButton opens the two-factor settings from the sidebar. */
export function TwoFactorButton(props: { twoFactor: TwoFactor; role: string; required: boolean; onChanged: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="pa-btn-ghost" data-testid="open-two-factor" onClick={() => setOpen(true)}>
        {props.twoFactor.enabled ? t("tf.buttonOn") : t("tf.buttonOff")}
      </button>
      {open && (
        <Dialog title={t("tf.title")} onClose={() => setOpen(false)}>
          <TwoFactorPanel {...props} />
        </Dialog>
      )}
    </>
  );
}

/** TwoFactorPanel sets up, shows or turns off the agent's two-factor
 * sign-in. onChanged reloads the agent (its state comes from /api/me). */
export function TwoFactorPanel({
  twoFactor,
  role,
  required,
  onChanged,
}: {
  twoFactor: TwoFactor;
  role: string;
  required: boolean;
  onChanged: () => void;
}) {
  const [enrolment, setEnrolment] = useState<{ secret: string; uri: string } | null>(null);
  const [code, setCode] = useState("");
  const [codes, setCodes] = useState<string[]>([]);
  const [proof, setProof] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setNote("");
    try {
      await fn();
    } catch (e) {
      setNote(e instanceof ApiError ? e.message : message(e));
    }
    setBusy(false);
  };
  const start = () => run(async () => setEnrolment(await api<{ secret: string; uri: string }>("POST", "/api/me/totp")));
  const confirm = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const r = await api<{ recovery_codes: string[] }>("POST", "/api/me/totp/confirm", { code: code.trim() });
      setCodes(r.recovery_codes);
      setEnrolment(null);
      setCode("");
    });
  };
  const disable = (e: Event) => {
    e.preventDefault();
    const p = proof.trim();
    // Six digits are a code from the app, "abcde-fghij" a recovery code,
    // anything else the password.
    const body = /^\d{3} ?\d{3}$/.test(p)
      ? { code: p }
      : /^[a-z2-7]{5}-[a-z2-7]{5}$/i.test(p)
        ? { recovery_code: p }
        : { password: proof };
    void run(async () => {
      await api("POST", "/api/me/totp/disable", body);
      setProof("");
      onChanged();
    });
  };
  // The box shows the choice at once; a refusal puts it back.
  const [requireAll, setRequireAll] = useState(required);
  useEffect(() => setRequireAll(required), [required]);
  const setRequired = (on: boolean) => {
    setRequireAll(on);
    void run(async () => {
      try {
        await api("PATCH", "/api/workspace", { require_2fa_for_admins: on });
      } catch (e) {
        setRequireAll(!on);
        throw e;
      }
      onChanged();
    });
  };

  if (codes.length > 0) {
    return (
      <div class="pa-two-factor" data-testid="recovery-codes">
        <p role="status">
          <strong>{t("tf.isOn")}</strong> {t("tf.keepCodes")}
        </p>
        <ul class="pa-recovery-codes">
          {codes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
        <button
          type="button"
          class="pa-btn"
          onClick={() => {
            setCodes([]);
            onChanged();
          }}
        >
          {t("tf.saved")}
        </button>
      </div>
    );
  }

  return (
    <div class="pa-two-factor">
      {note && (
        <div class="pa-error" role="alert">
          {note}
        </div>
      )}
      {twoFactor.enabled ? (
        <>
          <p data-testid="two-factor-state">
            {t("tf.onAsks")} {twoFactor.recovery_codes_left !== undefined && tn("tf.codesLeft", twoFactor.recovery_codes_left)}
          </p>
          <form onSubmit={disable}>
            <label class="pa-field">
              {t("tf.offProof")}
              <input type="password" autocomplete="off" required value={proof} onInput={(e) => setProof(e.currentTarget.value)} />
            </label>
            <button type="submit" class="pa-btn-outline" disabled={busy}>
              {t("tf.turnOff")}
            </button>
          </form>
        </>
      ) : enrolment ? (
        <form onSubmit={confirm}>
          <p>
            {t("tf.addAccount")}
          </p>
          <label class="pa-field">
            {t("tf.key")}
            <input readOnly data-testid="totp-secret" value={enrolment.secret} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <label class="pa-field">
            {t("tf.link")}
            <input readOnly data-testid="totp-uri" value={enrolment.uri} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <label class="pa-field">
            {t("tf.code")}
            <input
              inputMode="numeric"
              autocomplete="one-time-code"
              required
              pattern="[0-9 ]{6,7}"
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="pa-btn" disabled={busy}>
            {t("tf.turnOn")}
          </button>
        </form>
      ) : (
        <>
          <p>
            {twoFactor.enrolment_required
              ? t("tf.required")
              : t("tf.why")}
          </p>
          <button type="button" class="pa-btn" disabled={busy} onClick={() => void start()}>
            {t("tf.setUp")}
          </button>
        </>
      )}
      {role === "admin" && twoFactor.enabled && (
        <label class="pa-check">
          <input type="checkbox" checked={requireAll} disabled={busy} onChange={(e) => setRequired(e.currentTarget.checked)} />
          {t("tf.requireAdmins")}
        </label>
      )}
    </div>
  );
}
