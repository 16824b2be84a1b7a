// First run: a new admin's first sign-in shows a checklist whose items tick
// themselves as the admin does them, and which stays away once dismissed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, openWidget, send, ADMIN_EMAIL, ADMIN_PASSWORD } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("the first-run checklist ticks itself item by item and can be dismissed", async () => {
  const server = await e2e.server();
  const ctx = await e2e.browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
  const admin = await ctx.newPage();
  await admin.goto(`${server.url}/app/`);
  await admin.getByLabel("Email").fill(ADMIN_EMAIL);
  await admin.getByLabel("Password").fill(ADMIN_PASSWORD);
  await admin.getByRole("button", { name: "Sign in" }).click();

  const list = admin.getByRole("region", { name: "Get started" });
  await list.waitFor();
  const item = (name) => list.getByRole("listitem", { name });
  const done = async (name) => admin.waitForFunction((n) => document.querySelector(`li[aria-label="${n}"]`)?.dataset.done === "true", name);
  for (const name of ["Put the chat on your website", "Invite a teammate", "Set your languages and skills", "Test a chat"]) {
    assert.equal(await item(name).getAttribute("data-done"), "false", name);
  }
  await admin.screenshot({ path: `${shots}/firstrun.png` });

  // 1. Copy the snippet.
  await item("Put the chat on your website").getByRole("button", { name: "Copy the snippet" }).click();
  await done("Put the chat on your website");
  assert.match(await admin.evaluate(() => navigator.clipboard.readText()), /<script src=".*\/widget\.js" data-site="[0-9a-f-]{36}" async><\/script>/);

  // 2. Invite a teammate: the link is copied in one click.
  await item("Invite a teammate").getByRole("button", { name: "Invite someone" }).click();
  await item("Invite a teammate").getByLabel("Teammate's email").fill("sam@example.com");
  await item("Invite a teammate").getByRole("button", { name: "Copy an invite link" }).click();
  await done("Invite a teammate");
  assert.match(await admin.evaluate(() => navigator.clipboard.readText()), /\/agent\/invite\/\S+$/);

  // 3. Languages and skills.
  await item("Set your languages and skills").getByRole("button", { name: "Set them now" }).click();
  await item("Set your languages and skills").getByLabel("Languages you answer in").fill("en, fr");
  await item("Set your languages and skills").getByLabel("Skills").fill("billing");
  await item("Set your languages and skills").getByRole("button", { name: "Save languages and skills" }).click();
  await done("Set your languages and skills");
  const me = await admin.evaluate(() => fetch("/api/agents/me").then((r) => r.json()));
  assert.deepEqual([me.agent.languages, me.agent.skills], [["en", "fr"], ["billing"]]);

  // 4. A test chat from the demo page.
  const { frame } = await openWidget(e2e.browser, server.url);
  await send(frame, "Testing the chat");
  await done("Test a chat");
  await admin.getByRole("heading", { name: "You're all set" }).waitFor();
  await admin.screenshot({ path: `${shots}/firstrun-done.png` });

  // Dismissed, it stays away.
  await admin.getByRole("region", { name: "You're all set" }).getByRole("button", { name: "Dismiss" }).click();
  await admin.getByText("No conversation selected").waitFor();
  await admin.reload();
  await admin.locator("[data-testid=agent-self]").waitFor();
  await admin.getByText("No conversation selected").waitFor();
  assert.equal(await admin.getByRole("heading", { name: /Get started|You're all set/ }).count(), 0);
  await ctx.close();
});
