// Routing from where a conversation starts, as people meet it: the admin
// sets page rules and pre-chat choices in the dashboard's routing settings;
// a visitor's choice (or the page they are on) reaches the right agent, who
// can read why; a visitor whose browser locale nobody speaks is routed by
// the language of their first message.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  setUp, signInAgent, send, eventually, call, newAgent, online, widget,
} from "./harness.mjs";

const e2e = setUp();

const agentName = (v) => v.frame.locator("[data-testid=agent-name]").innerText();

test("pre-chat choices set in the dashboard reach the agent with the skill, who sees why", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const bea = await newAgent(e2e.browser, admin, s.url, "Bea", { skills: ["billing"] });
  await admin.click("[data-testid=open-settings]");
  await admin.fill("[data-testid=routing-prechat-choices]", "Billing question | billing\nSomething else | | general");
  await admin.click("[data-testid=routing-save]");
  await eventually(async () => (await admin.locator("[data-testid=routing-note]").innerText()) === "Saved", { what: "settings saved" });
  await admin.click("[data-testid=dialog-close]");

  const v = await widget(e2e.browser, s.url);
  const pick = v.frame.locator("[data-testid=prechat-team]");
  await pick.waitFor();
  // The widget polls availability; the choices come with it.
  await eventually(async () => (await pick.locator("option").allInnerTexts()).includes("Billing question"), { what: "the site's choices in the widget" });
  // The choice is posted on change: wait for the server's answer.
  const posted = v.page.waitForResponse((r) => r.url().endsWith("/api/widget/prechat") && r.ok());
  await pick.selectOption("Billing question");
  await posted;
  await send(v.frame, "A question about my invoice");
  await eventually(async () => (await agentName(v)) === "Bea", { what: "visitor served by the billing agent" });

  const mine = bea.page.locator("[data-testid=inbox-item][data-status=open]");
  await mine.waitFor();
  // The inbox re-renders as frames arrive; click until the conversation shows.
  await eventually(async () => {
    await mine.click();
    return bea.page.locator("[data-testid=routing-summary]").isVisible();
  }, { what: "Bea opens the conversation" });
  // Bea reads why in a sentence; the routing log is for supervisors and admins.
  assert.equal(await bea.page.locator("[data-testid=routing-summary]").innerText(), "Assigned to you: has the billing skill, the only one available");
  assert.equal(await bea.page.getByRole("button", { name: "Routing log" }).count(), 0);
  // (An admin opens another agent's conversation by its link.)
  await admin.goto(`${s.url}/app/#c=${await mine.getAttribute("data-conversation")}`);
  await admin.getByRole("button", { name: "Routing log" }).click();
  const why = admin.locator("[data-testid=routing-reasons]");
  await why.waitFor();
  const reasons = await why.locator("li").allInnerTexts();
  assert.match(reasons.at(-1), /pre-chat choice "Billing question" → skill billing/);
  assert.match(reasons[0], /skill billing/);
  await v.ctx.close();
});

test("a page rule sends visitors of matching pages to the agent with the skill", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  await newAgent(e2e.browser, admin, s.url, "Sam", { skills: ["sales"] });
  const sites = (await call(admin, "GET", "/api/sites")).json.sites;
  const set = await call(admin, "PATCH", `/api/sites/${sites[0].id}/routing`, { page_rules: [{ pattern: "/pricing*", skill: "support" }, { pattern: "/demo*", skill: "sales" }] });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  for (let i = 0; i < 2; i++) { // not a lucky tie: both go to Sam
    const v = await widget(e2e.browser, s.url);
    await v.frame.locator("[data-testid=composer]").waitFor();
    await send(v.frame, `Hello from the demo page (${i})`);
    await eventually(async () => (await agentName(v)) === "Sam", { what: `visitor ${i} on /demo served by the sales agent` });
    await v.ctx.close();
  }
});

test("a visitor whose locale nobody speaks reaches the agent who speaks the language they write", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const me = (await call(admin, "GET", "/api/me")).json.agent.id;
  assert.equal((await call(admin, "PATCH", `/api/agents/${me}`, { languages: ["en"] })).status, 200);
  await newAgent(e2e.browser, admin, s.url, "Fleur", { languages: ["fr"] });
  const v = await widget(e2e.browser, s.url, "ja-JP");
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Bonjour, je voudrais savoir où est ma commande");
  await eventually(async () => (await agentName(v)) === "Fleur", { what: "French words reach the French-speaking agent" });
  await v.ctx.close();
});
