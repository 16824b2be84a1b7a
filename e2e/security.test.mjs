// Account security as people meet it: an admin invites someone by link, the
// link signs them in once; sign out everywhere ends every session; the
// audit log shows what happened.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, eventually } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("an invite link signs the invited agent in once; sign out everywhere; audit log", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);

  await admin.click("[data-testid=open-agents]");
  await admin.fill("[data-testid=invite-email]", "nia@e2e.test");
  await admin.selectOption("[data-testid=invite-role]", "supervisor");
  await admin.click("[data-testid=invite-create]");
  const link = await admin.locator("[data-testid=invite-link]").inputValue();
  assert.match(link, new RegExp(`^${s.url}/agent/invite/[0-9a-f]{64}$`));
  await admin.locator("[data-testid=invite-row]").waitFor();
  await admin.click("[data-testid=dialog-close]");

  // The invited person opens the link in their own browser.
  const ctx = await e2e.browser.newContext();
  const nia = await ctx.newPage();
  await nia.goto(link);
  await eventually(async () => (await nia.locator("[data-testid=invite-for]").innerText()).includes("nia@e2e.test"), { what: "invite shown" });
  await nia.fill("[data-testid=invite-name]", "Nia");
  // A common password is refused, saying why; a passphrase is taken.
  await nia.getByLabel(/Choose a password/).fill("1234567890");
  await nia.getByRole("button", { name: "Join and sign in" }).click();
  await eventually(async () => /one of the most common passwords/.test(await nia.getByRole("alert").innerText()), { what: "weak password refused" });
  await nia.screenshot({ path: `${shots}/security-weak-password.png` });
  await nia.getByLabel(/Choose a password/).fill("a long enough password");
  await nia.click("[data-testid=invite-submit]");
  await eventually(async () => (await nia.locator("[data-testid=agent-self]").innerText()) === "Nia", { what: "signed in as Nia" });
  assert.equal(new URL(nia.url()).pathname, "/app/", "the spent link left the address bar");

  // The link works once.
  const again = await (await e2e.browser.newContext()).newPage();
  await again.goto(link);
  await eventually(async () => /already been used/.test(await again.locator("[data-testid=invite-error]").innerText()), { what: "used link refused" });
  assert.equal(await again.locator("[data-testid=invite-submit]").count(), 0);

  // Nia signs out everywhere: this browser and a second one.
  const niaPhone = await signInAgent(e2e.browser, s.url, "nia@e2e.test", "a long enough password");
  await nia.click("[data-testid=sign-out-everywhere]");
  // The dashboard asks in its own dialog, not the browser's confirm().
  const ask = nia.getByRole("dialog", { name: "Sign out everywhere?" });
  await ask.getByRole("button", { name: "Sign out everywhere" }).click();
  await nia.locator("[data-testid=login]").waitFor();
  await niaPhone.reload();
  await niaPhone.locator("[data-testid=login]").waitFor();

  // The admin sees all of it in the audit log.
  await admin.click("[data-testid=open-audit]");
  await admin.locator("[data-testid=audit-row]").first().waitFor();
  const actions = await admin.locator("[data-testid=audit-row]").evaluateAll((rows) => rows.map((r) => r.dataset.action));
  for (const a of ["invite_created", "invite_accepted", "sign_in", "sessions_revoked"]) {
    assert.ok(actions.includes(a), `${a} in ${actions}`);
  }
  await ctx.close();
});
