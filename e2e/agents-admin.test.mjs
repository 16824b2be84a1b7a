// Agent administration as people meet it: an agent signs out on one device
// and stays connected on the other; an admin disables the agent on the
// Agents screen, and the agent's open dashboard is signed out, sign-in says the
// account is disabled, the visitor's conversation goes to the admin; once
// enabled again, the agent signs in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, bodies, eventually, newAgent, online, widget } from "./harness.mjs";

const e2e = setUp();

test("an admin disables an agent: the agent's dashboard is signed out and the conversation moves", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  await admin.selectOption("[data-testid=status]", "away"); // Bob takes the visitor

  const bob = await newAgent(e2e.browser, admin, s.url, "Bob");
  const phone = await signInAgent(e2e.browser, s.url, "bob@e2e.test", "a long enough password");
  await online(phone);
  // Signing out on the phone leaves the laptop connected.
  await phone.click("[data-testid=logout]");
  await phone.locator("[data-testid=login]").waitFor();

  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Where is my parcel?");
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Bob", { what: "Bob serves the visitor" });
  // The laptop, still connected, gets the conversation.
  await bob.page.locator("[data-testid=inbox-item][data-status=open]").waitFor();
  await online(bob.page);

  // The admin disables Bob on the Agents screen.
  await admin.selectOption("[data-testid=status]", "online");
  await admin.getByRole("button", { name: "Agents" }).click();
  const screen = admin.getByRole("dialog", { name: "Agents" });
  const row = screen.locator(`[data-testid=agent-row][data-agent="${bob.id}"]`);
  await row.waitFor();
  await screen.getByRole("button", { name: "Disable Bob" }).click();
  // Asked in a dialog of the dashboard's own (not the browser's confirm).
  const ask = admin.getByRole("dialog", { name: "Disable Bob?" });
  await ask.waitFor();
  await admin.screenshot({ path: `${process.env.PARLEY_SCREENSHOTS ?? "/tmp"}/agentui-disable-confirm.png` });
  await ask.getByRole("button", { name: "Disable Bob" }).click();
  await screen.locator(`[data-testid=agent-row][data-agent="${bob.id}"][data-disabled=true]`).waitFor();
  assert.equal(await row.locator("[data-testid=agent-status]").innerText(), "disabled");

  // Bob's open dashboard goes back to the sign-in form, which refuses him.
  await eventually(async () => (await bob.page.locator("[data-testid=login]").count()) > 0, { timeout: 30_000, what: "Bob's dashboard signed out" });
  await bob.page.fill("[data-testid=email]", "bob@e2e.test");
  await bob.page.fill("[data-testid=password]", "a long enough password");
  await bob.page.click("[data-testid=login]");
  await eventually(async () => /disabled/.test(await bob.page.locator("[data-testid=login-error]").innerText()), { what: "sign-in refused as disabled" });

  // The visitor's conversation went to the admin, history whole.
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Admin", { timeout: 30_000, what: "the admin now serves the visitor" });
  assert.ok((await bodies(v.frame)).includes("Where is my parcel?"));

  // Enabled again, Bob signs in.
  await screen.getByRole("button", { name: "Enable Bob" }).click();
  await screen.locator(`[data-testid=agent-row][data-agent="${bob.id}"][data-disabled=false]`).waitFor();
  const again = await signInAgent(e2e.browser, s.url, "bob@e2e.test", "a long enough password");
  await online(again);
  await v.ctx.close();
});
