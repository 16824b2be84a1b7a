// Several workspaces on one install: `signaling workspace create` adds one
// whose admin signs in with the printed password; a person who is an agent
// of two workspaces with one address is asked which at sign-in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { setUp, buildSignaling, call, eventually, ADMIN_EMAIL } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

async function signIn(browser, url, email, password) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${url}/app/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  return page;
}

test("a second workspace from the command line; one address in two workspaces chooses at sign-in", async () => {
  // The invite refuses a password built on the address ("admin"), so both
  // accounts share another one.
  const shared = "tulip orbit canyon 42";
  const server = await e2e.server({ env: { PARLEY_ADMIN_PASSWORD: shared } });
  const out = execFileSync(buildSignaling(), ["workspace", "create", "--name", "Second shop", "--admin-email", "boss@acme.test"], {
    env: { ...process.env, PARLEY_DATA_DIR: server.dataDir, PARLEY_PUBLIC_URL: server.url },
    encoding: "utf8",
  });
  const password = out.match(/with password (\S+) \(shown once\)/)?.[1];
  assert.ok(password, out);

  // Its admin signs in and invites the first workspace's admin.
  const boss = await signIn(e2e.browser, server.url, "boss@acme.test", password);
  await boss.getByText("Second shop").waitFor();
  const inv = await call(boss, "POST", "/api/invites", { email: ADMIN_EMAIL, role: "agent" });
  assert.equal(inv.status, 201, JSON.stringify(inv.json));
  const ctx = await e2e.browser.newContext();
  const joined = await ctx.newPage();
  await joined.goto(inv.json.link);
  await joined.locator("[data-testid=invite-name]").fill("Admin");
  await joined.getByLabel(/Choose a password/).fill(shared);
  await joined.getByRole("button", { name: "Join and sign in" }).click();
  await joined.locator("[data-testid=agent-self]").waitFor();
  await ctx.close();

  // The same address and password now open two accounts: sign-in asks.
  const page = await signIn(e2e.browser, server.url, ADMIN_EMAIL, shared);
  await page.getByRole("alert").filter({ hasText: "several workspaces" }).waitFor();
  const choice = page.getByLabel("Workspace");
  assert.deepEqual(await choice.locator("option").allInnerTexts(), ["My workspace", "Second shop"]);
  await page.screenshot({ path: `${shots}/workspaces-choose.png` });
  await choice.selectOption({ label: "Second shop" });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("[data-testid=agent-self]").waitFor();
  await eventually(async () => (await call(page, "GET", "/api/me")).json.workspace.name === "Second shop", { what: "signed in to Second shop" });
  await page.getByText("Second shop").waitFor();

  const first = await signIn(e2e.browser, server.url, ADMIN_EMAIL, shared);
  await first.getByLabel("Workspace").selectOption({ label: "My workspace" });
  await first.getByRole("button", { name: "Sign in" }).click();
  await first.locator("[data-testid=agent-self]").waitFor();
  assert.equal((await call(first, "GET", "/api/me")).json.workspace.name, "My workspace");
});
