// Pre-chat fields set in the Sites screen: the widget asks them before the
// first message (required ones enforced), the answers become the visitor's
// profile the agent sees; the offline form asks the same extra fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { setUp, signInAgent, send, bodies, eventually, online, widget, openChat } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const frameOf = (page) => page.frames().find((f) => f.url().includes("/widget/frame"));

async function seriousViolations(frame) {
  await frame.evaluate(axeSource);
  const res = await frame.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return res.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

test("pre-chat fields configured in the Sites screen are asked, enforced and stored on the visitor", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  await admin.getByRole("button", { name: "Sites", exact: true }).click();
  const dialog = admin.getByRole("dialog", { name: "Sites" });
  await dialog.getByRole("listitem", { name: "Demo site" }).getByRole("button", { name: "Edit" }).click();
  await dialog.getByLabel(/Pre-chat form/).fill("name*\nemail*\nphone\nOrder number*");
  await admin.screenshot({ path: `${shots}/sites-prechat-fields.png` });
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.getByRole("listitem", { name: "Demo site" }).waitFor();
  await dialog.getByRole("button", { name: "Close" }).first().click();

  const v = await widget(e2e.browser, s.url, "fr-FR");
  const form = v.frame.locator("[data-testid=prechat-form]");
  await form.waitFor();
  assert.equal(await v.frame.locator("[data-testid=composer]").count(), 0, "no composer before the form");
  assert.equal(await v.frame.locator("[data-testid=prechat-phone]").getAttribute("placeholder"), "Votre téléphone (facultatif)");
  assert.deepEqual(await seriousViolations(frameOf(v.page)), [], "axe on the pre-chat form");
  await v.frame.locator("[data-testid=prechat-name]").fill("Zoé Martin");
  await v.frame.locator("[data-testid=prechat-email]").fill("zoe@example.com");
  await v.frame.locator("[data-testid=prechat-phone]").fill("+33 6 12 34 56 78");
  // The order number is required: the browser keeps the form from going.
  await v.frame.locator("[data-testid=prechat-submit]").click();
  assert.equal(await v.frame.locator("[data-testid=composer]").count(), 0, "a required field is missing");
  await v.frame.locator("[data-testid=prechat-custom]").fill("A-1234");
  await v.page.screenshot({ path: `${shots}/widget-prechat-form.png` });
  await v.frame.locator("[data-testid=prechat-submit]").click();
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Où en est ma commande ?");
  await openChat(admin, "Où en est ma commande ?");
  await eventually(async () => (await bodies(admin)).includes("Où en est ma commande ?"), { what: "the agent sees the visitor" });
  await eventually(async () => (await admin.locator("[data-testid=visitor-profile]").innerText()).includes("Order number: A-1234"), { what: "the profile shown" });
  assert.match(await admin.locator("[data-testid=visitor-profile]").innerText(), /Phone: \+33 6 12 34 56 78/);
  assert.equal(await admin.locator("[data-testid=visitor-email]").innerText(), "zoe@example.com");
  await admin.screenshot({ path: `${shots}/agent-prechat-profile.png` });
  // The form is not asked again on the next page.
  await v.page.reload();
  await v.page.click("#parley-launcher");
  await v.frame.locator("[data-testid=composer]").waitFor();
  assert.equal(await v.frame.locator("[data-testid=prechat-form]").count(), 0);
  await v.ctx.close();

  // Nobody online: the offline form asks the extra fields too.
  await admin.locator("select").first().selectOption("away").catch(() => {});
  await admin.context().close();
  const off = await widget(e2e.browser, s.url);
  await off.frame.locator("[data-testid=offline-form]").waitFor({ timeout: 30_000 });
  await off.frame.locator("[data-testid=prechat-phone]").waitFor();
  await off.frame.locator("[data-testid=prechat-custom]").waitFor();
  await off.ctx.close();
});
