// Routing as people meet it, part three (see routing.test.mjs; split so each
// file stays within the runner's per-file timeout): offer-and-accept from the
// inbox, and a team as a pre-chat choice only when an admin offers it.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  setUp, signInAgent, send, bodies, eventually, call, newAgent, online, widget, meId,
} from "./harness.mjs";

const e2e = setUp();

test("in offer mode the agent accepts the offer from the inbox", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const sites = (await call(admin, "GET", "/api/sites")).json.sites;
  const set = await call(admin, "PATCH", `/api/sites/${sites[0].id}/routing`, { mode: "offer", offer_timeout_seconds: 60, max_misses: 3 });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Anyone there?");
  const offer = admin.locator("[data-testid=offer]");
  await offer.waitFor();
  assert.equal(await v.frame.locator("[data-testid=agent-name]").count(), 0, "not assigned before the accept");
  await admin.locator("[data-testid=offer-accept]").click();
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Admin", { what: "visitor assigned after the accept" });
  await offer.waitFor({ state: "detached" });
  await eventually(async () => (await bodies(admin)).includes("Anyone there?"), { what: "accepted conversation opened" });
  await v.ctx.close();
});

test("a team is a visitor's choice only when an admin offers it, and then reaches that team's agent", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  await newAgent(e2e.browser, admin, s.url, "Bea", { teams: ["billing"] });
  // Bea's team is internal: no choice offered, no team name shown.
  const before = await widget(e2e.browser, s.url);
  await before.frame.getByText("Online", { exact: true }).waitFor(); // availability answered
  assert.equal(await before.frame.locator("[data-testid=prechat-team]").count(), 0, "no choices before an admin offers some");
  assert.doesNotMatch(await before.frame.locator("body").innerText(), /billing/i);
  await before.ctx.close();

  const sites = (await call(admin, "GET", "/api/sites")).json.sites;
  const set = await call(admin, "PATCH", `/api/sites/${sites[0].id}/routing`, { prechat_choices: [{ label: "Invoices", team: "billing" }] });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  const v = await widget(e2e.browser, s.url);
  const pick = v.frame.getByRole("combobox", { name: "What is it about?" });
  await pick.waitFor();
  assert.deepEqual(await pick.locator("option").allInnerTexts(), ["Anything", "Invoices"]);
  // The choice is posted on change: wait for the server's answer.
  const posted = v.page.waitForResponse((r) => r.url().endsWith("/api/widget/prechat") && r.ok());
  await pick.selectOption("Invoices");
  await posted;
  await send(v.frame, "A question about my invoice");
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Bea", { what: "visitor served by the billing team" });
  await v.ctx.close();
});
