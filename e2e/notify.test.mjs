// Notifications and keyboard shortcuts, as an agent meets them: Bob turns
// desktop notifications on in his settings (the browser asks then, not on
// load), and a note that mentions him shows one, with a sound, though the
// chat is not his; the settings are kept on the server. The admin works
// the conversation from the keyboard: ? shows the sheet, N switches to a
// private note, R focuses the reply box, J/K move between conversations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, openWidget, send, bodies, eventually, online, newAgent, call } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

test("a mention shows a desktop notification with a sound; shortcuts work and are listed", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const bob = await newAgent(e2e.browser, admin, s.url, "Bob", { role: "agent" });
  await bob.page.locator("[data-testid=status]").selectOption("away");
  await bob.page.context().grantPermissions(["notifications"], { origin: s.url });

  // Bob turns desktop notifications on from the settings.
  await bob.page.locator("[data-testid=notify-open]").click();
  const settings = bob.page.getByRole("dialog", { name: "Notifications" });
  await settings.getByLabel("Desktop notifications").check();
  await eventually(async () => (await call(bob.page, "GET", "/api/me/notifications")).json.notifications.desktop === true, {
    what: "the setting saved on the server",
  });
  await bob.page.screenshot({ path: `${shots}/notify-settings.png` });
  await bob.page.keyboard.press("Escape");
  // Bob's page records the notifications it shows (the real API still runs).
  await bob.page.evaluate(() => {
    window.shown = [];
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title, opts) {
        super(title, opts);
        window.shown.push({ title, body: opts?.body });
      }
    };
    Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
  });

  const { frame } = await openWidget(e2e.browser, s.url);
  await send(frame, "My parcel never came");
  const item = admin.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(admin)).includes("My parcel never came"), { what: "the admin sees the visitor" });

  // Keyboard: ? lists the shortcuts.
  await admin.locator("[data-testid=conversation-title]").click();
  await admin.keyboard.press("?");
  const sheet = admin.getByRole("dialog", { name: "Keyboard shortcuts" });
  await sheet.waitFor();
  assert.match(await sheet.innerText(), /Next conversation/);
  await admin.screenshot({ path: `${shots}/notify-shortcuts.png` });
  await admin.keyboard.press("Escape");
  await eventually(async () => (await admin.getByRole("dialog").count()) === 0, { what: "the sheet closes" });
  // N switches to a private note, R focuses the box.
  await admin.keyboard.press("n");
  assert.equal(await admin.locator("[data-testid=mode-note]").getAttribute("aria-selected"), "true");
  await admin.keyboard.press("Escape");
  await admin.keyboard.press("r");
  assert.equal(await admin.evaluate(() => document.activeElement?.dataset.testid), "composer");

  await admin.keyboard.type("Carrier lost it, @Bob can you reship?");
  await admin.keyboard.press("Enter");
  await admin.locator("[data-testid=note]").waitFor();

  await eventually(async () => (await bob.page.evaluate(() => window.shown.length)) > 0, { what: "Bob's desktop notification" });
  const [shown] = await bob.page.evaluate(() => window.shown);
  assert.equal(shown.title, "Admin mentioned you");
  assert.match(shown.body, /reship/);
  await eventually(async () => (await bob.page.evaluate(() => window.parleyChimes ?? 0)) > 0, { what: "Bob's sound" });
});
