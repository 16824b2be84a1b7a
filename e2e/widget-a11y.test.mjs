// The widget is usable with a keyboard and a screen reader (WCAG 2.1 AA):
// Enter on the launcher opens the chat with the focus in it, Escape closes
// it and gives the focus back to the launcher, new replies are announced by
// a live region, and axe-core finds no serious or critical violation in any
// state of the widget: closed, open, pre-chat, offline, attachments, a
// call ringing.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { setUp, signInAgent, send, openChat, bodies, eventually, call, online, widget, demoSiteId, launchBrowser } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe runs axe-core in a frame (or page) and returns its serious and
 * critical violations, limited to the selector's elements when given. */
async function axe(frame, include) {
  await frame.evaluate(axeSource);
  const res = await frame.evaluate(
    async (include) => window.axe.run(include ? { include: [[include]] } : document, { resultTypes: ["violations"] }),
    include ?? null,
  );
  return res.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

const frameOf = (page) => page.frames().find((f) => f.url().includes("/widget/frame"));

test("keyboard: Enter opens with the focus inside, Escape closes back to the launcher; replies are announced", async () => {
  const s = await e2e.server();
  const agent = await signInAgent(e2e.browser, s.url);
  await online(agent);
  const ctx = await e2e.browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${s.url}/demo`);
  const launcher = page.locator("#parley-launcher");
  await launcher.waitFor();
  // Tab through the page until the launcher has the focus.
  for (let i = 0; i < 20 && !(await launcher.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press("Tab");
  assert.ok(await launcher.evaluate((el) => el === document.activeElement), "the launcher is reachable with Tab");
  await page.keyboard.press("Enter");
  const frame = page.frameLocator("#parley-frame");
  await frame.locator("[data-testid=composer]").waitFor();
  await eventually(() => frameOf(page)?.evaluate(() => document.activeElement?.getAttribute("data-testid") === "composer"), { what: "the focus in the composer" });
  await page.keyboard.type("Typed with the keyboard only");
  await page.keyboard.press("Enter");
  await openChat(agent, "Typed with the keyboard only");
  await eventually(async () => (await bodies(agent)).includes("Typed with the keyboard only"), { what: "the agent sees it" });
  await send(agent, "Got it, thanks!");
  await eventually(async () => (await frame.locator("[data-testid=announcer]").innerText()).includes("Got it, thanks!"), { what: "the reply announced" });
  assert.equal(await frame.locator("[data-testid=announcer]").getAttribute("aria-live"), "polite");

  // Escape closes and the focus is back on the launcher.
  await page.keyboard.press("Escape");
  await page.locator("#parley-frame").waitFor({ state: "hidden" });
  assert.ok(await launcher.evaluate((el) => el === document.activeElement), "the focus is back on the launcher");
  assert.equal(await launcher.getAttribute("aria-expanded"), "false");
  // And Enter opens it again, the focus inside again.
  await page.keyboard.press("Enter");
  await page.locator("#parley-frame").waitFor({ state: "visible" });
  await eventually(() => frameOf(page)?.evaluate(() => document.activeElement?.getAttribute("data-testid") === "composer"), { what: "the focus back in the composer" });
  await ctx.close();
  await agent.context().close();
});

test("axe-core: no serious or critical violation closed, open, pre-chat, offline, attachments, call ringing", async () => {
  const s = await e2e.server({ env: { PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true" } });
  const site = await demoSiteId(s.url);

  // Offline: nobody is signed in.
  const off = await widget(e2e.browser, s.url);
  await off.frame.locator("[data-testid=offline-form]").waitFor();
  assert.deepEqual(await axe(frameOf(off.page)), [], "offline");
  // Closed: the launcher on the host page.
  await off.page.keyboard.press("Escape");
  await off.page.locator("#parley-frame").waitFor({ state: "hidden" });
  assert.deepEqual(await axe(off.page.mainFrame(), "#parley-launcher"), [], "closed");
  await off.ctx.close();

  // Pre-chat: the site offers topics. The agent's browser has a (fake)
  // microphone it may use, for the call below.
  const media = await launchBrowser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]);
  after(() => media.close());
  const admin = await signInAgent(media, s.url);
  await online(admin);
  const r = await call(admin, "PATCH", `/api/sites/${site}/routing`, { prechat_choices: [{ label: "Billing question", skill: "billing" }, { label: "Something else", team: "general" }] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const pre = await widget(e2e.browser, s.url);
  await pre.frame.locator("[data-testid=prechat-team]").waitFor();
  assert.deepEqual(await axe(frameOf(pre.page)), [], "pre-chat");
  await pre.page.screenshot({ path: `${shots}/widget-a11y-prechat.png` });

  // Open, chatting, then a call ringing.
  await send(pre.frame, "Hello, can you call me?");
  await openChat(admin, "Hello, can you call me?");
  await eventually(async () => (await bodies(admin)).includes("Hello, can you call me?"), { what: "the agent sees the visitor" });
  await send(admin, "Sure, see https://example.com/help for now.");
  await eventually(async () => (await bodies(pre.frame)).includes("Sure, see https://example.com/help for now."), { what: "the reply" });
  assert.deepEqual(await axe(frameOf(pre.page)), [], "open");
  await pre.page.screenshot({ path: `${shots}/widget-a11y-open.png` });

  // Attachments: an image inline, and a refused file with Retry and Remove.
  const dot = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAFgwJ/lK3Q6wAAAABJRU5ErkJggg==", "base64");
  await pre.frame.locator("[data-testid=attach-input]").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: dot });
  await pre.frame.locator("[data-testid=attachment-image]").waitFor();
  await pre.frame.locator("[data-testid=attach-input]").setInputFiles({ name: "page.html", mimeType: "text/html", buffer: Buffer.from("<p>hi</p>") });
  await pre.frame.locator("[data-testid=upload-error]").waitFor();
  assert.deepEqual(await axe(frameOf(pre.page)), [], "attachments");

  // A call ringing: the agent calls once both sides are on their data
  // channels (the call button stays disabled until then).
  const transport = (scope) => scope.locator("[data-testid=conn-state]").first().getAttribute("data-transport");
  await eventually(async () => (await transport(pre.frame)) === "datachannel", { what: "the visitor on the data channel", timeout: 30_000 });
  await eventually(async () => (await transport(admin)) === "datachannel", { what: "the agent on the data channel", timeout: 30_000 });
  await admin.locator("[data-testid=call-voice]:not([disabled])").click();
  await pre.frame.locator("[data-testid=call-accept]").waitFor();
  assert.deepEqual(await axe(frameOf(pre.page)), [], "call ringing");
  await pre.page.screenshot({ path: `${shots}/widget-a11y-call.png` });
  await pre.ctx.close();
  await admin.context().close();
});
