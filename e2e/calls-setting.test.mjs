// The site's "visitors may start voice calls" switch, as an admin meets it:
// in the dashboard's settings dialog, saved at once; the widget then offers
// the visitor a voice call. (Only admins get the switch; the API refuses
// anyone else, see pkg/service/site_calls_test.go.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, eventually, call, online, widget } from "./harness.mjs";

const e2e = setUp();

test("an admin lets visitors call from the settings dialog; the widget then offers a voice call", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  await admin.click("[data-testid=open-settings]");
  const box = admin.locator("[data-testid=visitor-calls]");
  await box.waitFor();
  assert.equal(await box.isChecked(), false, "a new site does not let visitors call");
  await box.click();
  await eventually(async () => (await admin.locator("[data-testid=visitor-calls-note]").innerText()) === "Saved", { what: "switch saved" });
  const sites = (await call(admin, "GET", "/api/sites")).json.sites;
  assert.equal(sites[0].visitor_calls, true);
  await admin.click("[data-testid=dialog-close]");

  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Can I call you?");
  await v.frame.locator("[data-testid=call-voice]").waitFor({ timeout: 15_000 });

  // Off again: saved, and the API says so.
  await admin.click("[data-testid=open-settings]");
  await box.waitFor();
  assert.equal(await box.isChecked(), true, "the dialog shows the saved setting");
  await box.click();
  await eventually(async () => (await call(admin, "GET", "/api/sites")).json.sites[0].visitor_calls === false, { what: "switch off saved" });
  await admin.click("[data-testid=dialog-close]");
  await v.ctx.close();
});
