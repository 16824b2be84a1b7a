// Supervision as a supervisor uses it: the live view lists the agents with
// their status and load, and the open conversation; the supervisor
// reassigns it to another agent, who sees it arrive in their inbox live,
// and reads an agent's status history.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, openWidget, send, eventually, online, call, newAgent } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("a supervisor reassigns a live conversation and the agent sees it", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  // The admin steps away: routing gives the chat to Al or Bo.
  await admin.locator("[data-testid=status]").selectOption("away");
  const al = await newAgent(e2e.browser, admin, s.url, "Al", { role: "agent" });
  const bo = await newAgent(e2e.browser, admin, s.url, "Bo", { role: "agent" });
  const sue = await newAgent(e2e.browser, admin, s.url, "Sue", { role: "supervisor" });
  await sue.page.locator("[data-testid=status]").selectOption("away");
  await bo.page.locator("[data-testid=status]").selectOption("away");
  await bo.page.locator("[data-testid=status]").selectOption("online");
  const { frame } = await openWidget(e2e.browser, s.url);
  await send(frame, "My parcel never arrived");

  const sup = sue.page;
  await sup.locator("[data-testid=open-supervision]").click();
  const first = sup.locator("[data-testid=sup-open]", { hasText: "My parcel never arrived" });
  await first.waitFor({ timeout: 20_000 });
  // The row by its conversation: the last message shown changes.
  const row = sup.locator(`[data-testid=sup-open][data-conversation="${await first.getAttribute("data-conversation")}"]`);
  const owner = (await row.locator("[data-testid=sup-agent]").innerText()).trim();
  assert.ok(owner === "Al" || owner === "Bo", `assigned to ${owner}`);
  const [from, to] = owner === "Al" ? [al, bo] : [bo, al];
  const toName = owner === "Al" ? "Bo" : "Al";
  await from.page.locator("[data-testid=inbox-item]", { hasText: "My parcel never arrived" }).waitFor();
  assert.equal(await to.page.locator("[data-testid=inbox-item]", { hasText: "My parcel never arrived" }).count(), 0);
  const loadOf = (name) => sup.locator("[data-testid=sup-agent-row]", { hasText: name }).locator("[data-testid=sup-load]");
  assert.match(await loadOf(owner).innerText(), /^1 \//);
  await sup.screenshot({ path: `${shots}/supervision.png` });

  // Reassign, live.
  await row.locator("[data-testid=sup-reassign-to]").selectOption(to.id);
  await row.locator("[data-testid=sup-reassign]").click();
  await sup.locator("[data-testid=sup-notice]").waitFor();
  await to.page.locator("[data-testid=inbox-item]", { hasText: "My parcel never arrived" }).waitFor({ timeout: 15_000 });
  await eventually(async () => (await row.locator("[data-testid=sup-agent]").innerText()).trim() === toName, { what: "the view shows the new agent" });
  await eventually(async () => /^1 \//.test(await loadOf(toName).innerText()), { what: "the new agent's load" });
  await to.page.locator("[data-testid=inbox-item]", { hasText: "My parcel never arrived" }).click();
  await eventually(async () => (await to.page.locator("[data-testid=message-body]").allInnerTexts()).includes("My parcel never arrived"), {
    what: "the new agent reads the conversation",
  });
  await to.page.screenshot({ path: `${shots}/supervision-reassigned.png` });

  // Bo's status history: away then online, newest first.
  await sup.locator("[data-testid=sup-agent-row]", { hasText: "Bo" }).locator("[data-testid=sup-history]").click();
  const hist = sup.locator("[data-testid=status-history]");
  await hist.waitFor();
  const lines = await hist.locator("li").allInnerTexts();
  assert.match(lines[0], /^online/);
  assert.match(lines[1], /^away/);
  await sup.screenshot({ path: `${shots}/supervision-history.png` });

  // A plain agent has no supervision.
  assert.equal(await al.page.locator("[data-testid=open-supervision]").count(), 0);
  const denied = await call(al.page, "GET", "/api/supervision");
  assert.equal(denied.status, 403);
});
