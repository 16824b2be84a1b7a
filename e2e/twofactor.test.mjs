// Two-factor sign-in as an agent meets it: set it up from the dashboard
// with a code from an "authenticator app" (computed here with the same
// RFC 6238 algorithm), keep the recovery codes, then sign in with the
// password and a code, or a recovery code; a wrong code is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setUp, signInAgent, eventually, call, ADMIN_EMAIL, ADMIN_PASSWORD } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of s.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const out = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

/** totp is what an authenticator app shows for secret at step. */
function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const sum = createHmac("sha1", base32(secret)).update(msg).digest();
  const off = sum[sum.length - 1] & 0x0f;
  return String((sum.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
const stepNow = () => Math.floor(Date.now() / 30_000);

async function startSignIn(url, email = ADMIN_EMAIL, password = ADMIN_PASSWORD) {
  const page = await (await e2e.browser.newContext()).newPage();
  await page.goto(`${url}/app/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Code from your authenticator app").waitFor();
  return page;
}

/** enrol sets two-factor sign-in up from the dashboard as a person would. */
async function enrol(page, shot) {
  await page.getByRole("button", { name: "Two-factor sign-in (off)" }).click();
  const dialog = page.getByRole("dialog", { name: "Two-factor sign-in" });
  await dialog.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const secret = await dialog.getByLabel("Key").inputValue();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.match(await dialog.getByLabel("Link").inputValue(), new RegExp(`^otpauth://totp/Parley:.*secret=${secret}`));
  if (shot) await page.screenshot({ path: `${shots}/twofactor-setup.png` });
  const confirmStep = stepNow();
  await dialog.getByLabel("Code from your authenticator app").fill(totp(secret, confirmStep));
  await dialog.getByRole("button", { name: "Turn on" }).click();
  await dialog.getByText("Two-factor sign-in is on.").waitFor();
  const recovery = await dialog.locator("[data-testid=recovery-codes] code").allInnerTexts();
  assert.equal(recovery.length, 10);
  if (shot) await page.screenshot({ path: `${shots}/twofactor-recovery-codes.png` });
  await dialog.getByRole("button", { name: "I saved them" }).click();
  await eventually(async () => /10 recovery codes left/.test(await dialog.innerText()), { what: "2FA shown as on" });
  if (shot) await page.screenshot({ path: `${shots}/twofactor-on.png` });
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.getByRole("button", { name: "Two-factor sign-in (on)" }).waitFor();
  return { secret, recovery, confirmStep };
}

// Each account may try signing in 5 times a minute from one address: the
// code and the recovery code are tried on two accounts.
test("an agent sets up two-factor sign-in and signs in with a code or a recovery code", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  const { secret, confirmStep } = await enrol(admin, true);

  // The password alone asks for a code; a wrong one is refused.
  const page = await startSignIn(s.url);
  await page.screenshot({ path: `${shots}/twofactor-login-code.png` });
  await page.getByLabel("Code from your authenticator app").fill(totp(secret, confirmStep + 7));
  await page.getByRole("button", { name: "Sign in" }).click();
  await eventually(async () => /wrong code/i.test(await page.getByRole("alert").innerText()), { what: "wrong code refused" });
  // The next step's code (one step of skew is accepted; the confirming
  // step is spent) signs in.
  await page.getByLabel("Code from your authenticator app").fill(totp(secret, Math.max(stepNow(), confirmStep) + 1));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("[data-testid=agent-self]").waitFor();

  // A recovery code signs in once.
  const email = "ada@e2e.test";
  const password = "a long enough password";
  const created = await call(admin, "POST", "/api/agents", { email, name: "Ada", password });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const { recovery } = await enrol(await signInAgent(e2e.browser, s.url, email, password));
  const other = await startSignIn(s.url, email, password);
  await other.getByRole("button", { name: "Use a recovery code instead" }).click();
  await other.getByLabel("Recovery code").fill(recovery[0]);
  await other.getByRole("button", { name: "Sign in" }).click();
  await other.locator("[data-testid=agent-self]").waitFor();
  const again = await startSignIn(s.url, email, password);
  await again.getByRole("button", { name: "Use a recovery code instead" }).click();
  await again.getByLabel("Recovery code").fill(recovery[0]);
  await again.getByRole("button", { name: "Sign in" }).click();
  await eventually(async () => /already used/.test(await again.getByRole("alert").innerText()), { what: "used recovery code refused" });
  await again.screenshot({ path: `${shots}/twofactor-recovery-refused.png` });
});

// When the workspace requires two-factor sign-in of admins, an admin
// without it gets only the set-up screen until it is on.
test("an admin of a workspace requiring two-factor sign-in sets it up before anything else", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await enrol(admin);
  await admin.getByRole("button", { name: "Two-factor sign-in (on)" }).click();
  const dialog = admin.getByRole("dialog", { name: "Two-factor sign-in" });
  await dialog.getByLabel("Require two-factor sign-in for every admin of this workspace").check();
  await eventually(async () => (await call(admin, "GET", "/api/me")).json.workspace.require_2fa_for_admins === true, { what: "setting saved" });
  await dialog.getByRole("button", { name: "Close" }).click();

  const email = "bea@e2e.test";
  const password = "a long enough password";
  const created = await call(admin, "POST", "/api/agents", { email, name: "Bea", password, role: "admin" });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const page = await (await e2e.browser.newContext()).newPage();
  await page.goto(`${s.url}/app/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const screen = page.getByRole("region", { name: "Set up two-factor sign-in" });
  await screen.getByText("Your workspace requires two-factor sign-in for admins").waitFor();
  assert.equal(await page.locator("[data-testid=agent-self]").count(), 0, "no dashboard before enrolment");
  assert.equal((await call(page, "GET", "/api/conversations")).status, 403);
  await page.screenshot({ path: `${shots}/twofactor-enrol-first.png` });
  await screen.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const secret = await screen.getByLabel("Key").inputValue();
  await screen.getByLabel("Code from your authenticator app").fill(totp(secret, stepNow()));
  await screen.getByRole("button", { name: "Turn on" }).click();
  await screen.getByRole("button", { name: "I saved them" }).click();
  await page.locator("[data-testid=agent-self]").waitFor();
  assert.equal((await call(page, "GET", "/api/conversations")).status, 200);

  // Bea loses her phone and codes: an admin resets it on the Agents
  // screen; her password alone then leads to the set-up screen again.
  await admin.click("[data-testid=open-agents]");
  await admin.getByRole("button", { name: "Reset two-factor sign-in of Bea" }).click();
  const ask = admin.getByRole("dialog", { name: "Reset two-factor sign-in of Bea?" });
  await admin.screenshot({ path: `${shots}/twofactor-reset.png` });
  await ask.getByRole("button", { name: "Reset two-factor sign-in of Bea" }).click();
  await admin.getByText("Bea: two-factor sign-in reset").waitFor();
  const later = await (await e2e.browser.newContext()).newPage();
  await later.goto(`${s.url}/app/`);
  await later.getByLabel("Email").fill(email);
  await later.getByLabel("Password").fill(password);
  await later.getByRole("button", { name: "Sign in" }).click();
  await later.getByRole("region", { name: "Set up two-factor sign-in" }).waitFor();
});
