// What the widget tells a visitor is true, read as a visitor reads it: the
// header says "Online" only when someone can answer (away, or back at a
// time, otherwise); the agent's typing indicator goes when the agent clears
// the box; while the connection is restored the call buttons say nothing
// about the network. Screenshots of each state go to PARLEY_SHOTS (a
// directory) when it is set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { setUp, signInAgent, send, bodies, eventually, call, online, widget } from "./harness.mjs";

const e2e = setUp();

async function shot(page, name) {
  if (process.env.PARLEY_SHOTS) await page.screenshot({ path: join(process.env.PARLEY_SHOTS, name + ".png") });
}

const header = (v) => v.frame.locator("[data-testid=conn-state]").innerText();

test("the header says Online only when someone can answer", async () => {
  const s = await e2e.server();
  // Nobody signed in: away, and the form to leave a message.
  const away = await widget(e2e.browser, s.url);
  await away.frame.getByText("Away — leave a message").waitFor();
  await away.frame.getByRole("button", { name: "Send message" }).waitFor();
  assert.doesNotMatch(await away.frame.locator("body").innerText(), /will answer here/, "no promise of an answer in the chat");
  await shot(away.page, "widget-away");

  // An agent comes online: the same open widget says so.
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  await eventually(async () => (await header(away)) === "Online", { what: "header Online once an agent is" });
  await away.ctx.close();

  // Outside business hours (open one minute a day, twelve hours from
  // now): when it opens again, in the visitor's own time.
  const open = new Date(Date.now() + 12 * 3600_000);
  const hhmm = (d) => d.toISOString().slice(11, 16);
  const slot = `${hhmm(open)}-${hhmm(open) === "23:59" ? "24:00" : hhmm(new Date(open.getTime() + 60_000))}`;
  const hours = Object.fromEntries(["sun", "mon", "tue", "wed", "thu", "fri", "sat"].map((d) => [d, [slot]]));
  const sites = (await call(admin, "GET", "/api/sites")).json.sites;
  const set = await call(admin, "PATCH", `/api/sites/${sites[0].id}/routing`, { business_hours: hours, time_zone: "UTC" });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  const closed = await widget(e2e.browser, s.url);
  await eventually(async () => /^Back (at|\w+) \d\d:\d\d/.test(await header(closed)), { what: "header says when the site is back" });
  const when = (await header(closed)).replace(/^Back /, "");
  assert.ok((await closed.frame.locator("[data-testid=offline-notice]").innerText()).startsWith(`We are closed right now (back ${when}).`), "the form says the same time");
  await shot(closed.page, "widget-closed");
  await closed.ctx.close();
});

test("the agent's typing indicator goes as soon as the agent clears the box", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const v = await widget(e2e.browser, s.url);
  await send(v.frame, "Is the blue one in stock?");
  const item = admin.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(admin)).includes("Is the blue one in stock?"), { what: "agent sees the question" });

  const typing = v.frame.getByText("Admin is typing…");
  await admin.locator("[data-testid=composer]").pressSequentially("Let me ch");
  await typing.waitFor();
  await shot(v.page, "widget-agent-typing");
  await admin.locator("[data-testid=composer]").fill("");
  // The agent's pause timer is 4 s and the indicator's own 8 s: gone well
  // before either means the clear itself said so.
  const cleared = Date.now();
  await typing.waitFor({ state: "hidden", timeout: 2000 });
  console.log(`measured: typing indicator gone ${Date.now() - cleared} ms after the agent cleared the box`);

  // Sending ends it too, with the message.
  await admin.locator("[data-testid=composer]").pressSequentially("Yes");
  await typing.waitFor();
  await admin.locator("[data-testid=send]").click();
  await eventually(async () => (await bodies(v.frame)).includes("Yes"), { what: "the reply" });
  await typing.waitFor({ state: "hidden", timeout: 2000 });
  await v.ctx.close();
});

test("while the widget reconnects, the call buttons give no verdict on the network", async () => {
  const s = await e2e.server({ env: { PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true" } });
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const v = await widget(e2e.browser, s.url);
  await send(v.frame, "Can I show you my screen?");
  const item = admin.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await send(admin, "Sure");
  const share = v.frame.getByRole("button", { name: "Share my screen" });
  await eventually(async () => (await share.isEnabled()), { what: "visitor can share once the link is up" });

  await s.kill();
  await v.frame.getByText("Reconnecting…").waitFor();
  await eventually(async () => await share.isDisabled(), { what: "no share without a connection" });
  const text = await v.frame.locator("body").innerText();
  assert.doesNotMatch(text, /Calls aren't possible/, "no verdict on the network while reconnecting");
  assert.match(await share.getAttribute("title"), /^Connecting…/);
  await shot(v.page, "widget-reconnecting");

  const again = await s.restart();
  try {
    await eventually(async () => (await header(v)) === "Online", { timeout: 30_000, what: "widget back online" });
    await eventually(async () => (await share.isEnabled()), { timeout: 30_000, what: "share possible again once the link is back" });
    assert.doesNotMatch(await v.frame.locator("body").innerText(), /Calls aren't possible/);
  } finally {
    await again.stop();
  }
  await v.ctx.close();
});
