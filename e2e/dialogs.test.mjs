// Dialogs and forms as a keyboard user meets them: a dialog takes focus,
// keeps Tab inside, closes on Escape and gives focus back; the Agents
// screen's fields are reachable by their labels, and "Add an agent" saves
// skills.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, eventually, online } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

const inDialog = (page) => page.evaluate(() => !!document.activeElement?.closest("[role=dialog]"));

test("a dialog traps focus, closes on Escape and returns focus to its opener", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const opener = admin.getByRole("button", { name: "Routing settings" });
  await opener.click();
  const dialog = admin.getByRole("dialog", { name: "Routing settings" });
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute("aria-modal"), "true");
  await eventually(() => inDialog(admin), { what: "focus moves into the dialog" });
  // Tab and Shift+Tab, many times round: focus never leaves the dialog.
  for (let i = 0; i < 60; i++) {
    await admin.keyboard.press(i < 40 ? "Tab" : "Shift+Tab");
    assert.ok(await inDialog(admin), `focus left the dialog after ${i + 1} presses`);
  }
  const close = dialog.getByRole("button", { name: "Close" });
  assert.ok(await close.isVisible());
  const look = await close.evaluate((el) => ({ color: getComputedStyle(el).color, border: getComputedStyle(el).borderTopColor }));
  assert.notEqual(look.color, "rgb(208, 213, 221)", "the close button is not the faint grey it was");
  await admin.keyboard.press("Escape");
  await eventually(async () => (await admin.getByRole("dialog").count()) === 0, { what: "Escape closes the dialog" });
  assert.equal(await admin.evaluate(() => document.activeElement?.textContent?.trim()), "Routing settings", "focus back on the opener");
});

test("the Agents screen: fields by label, a new agent's skills saved, role and status in the same row", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  await admin.getByRole("button", { name: "Agents" }).click();
  const screen = admin.getByRole("dialog", { name: "Agents" });
  await screen.getByRole("row", { name: /Admin/ }).waitFor();
  assert.equal(await admin.getByRole("button", { name: "Team access" }).count(), 0, "one screen, not two");

  const form = screen.getByRole("form", { name: "Add an agent" });
  await form.getByLabel("Name").fill("Carla");
  await form.getByLabel("Email").fill("carla@e2e.test");
  await form.getByLabel("Password").fill("a long enough password");
  await form.getByLabel("Role").selectOption("supervisor");
  await form.getByLabel("Languages").fill("es, en");
  await form.getByLabel("Skills").fill("billing, refunds");
  await form.getByLabel("Teams").fill("support");
  await form.getByRole("button", { name: "Add agent" }).click();
  await form.getByText("Carla added").waitFor();

  // Carla's row: every field reachable by its label, holding what was saved.
  await screen.getByLabel("Skills of Carla").waitFor();
  assert.equal(await screen.getByLabel("Skills of Carla").inputValue(), "billing, refunds");
  assert.equal(await screen.getByLabel("Languages of Carla").inputValue(), "es, en");
  assert.equal(await screen.getByLabel("Role of Carla").inputValue(), "supervisor");
  const agents = (await admin.evaluate(() => fetch("/api/agents").then((r) => r.json()))).agents;
  assert.deepEqual(agents.find((a) => a.name === "Carla").skills, ["billing", "refunds"]);

  // Edit in the row and save.
  await screen.getByLabel("Skills of Carla").fill("billing");
  await screen.getByLabel("Capacity of Carla").fill("3");
  await screen.getByRole("button", { name: "Save Carla" }).click();
  await screen.getByText("Carla: saved").waitFor();
  await eventually(async () => {
    const a = (await admin.evaluate(() => fetch("/api/agents").then((r) => r.json()))).agents.find((x) => x.name === "Carla");
    return a.capacity === 3 && a.skills.join() === "billing";
  }, { what: "row saved" });
  const row = screen.getByRole("row", { name: /Carla/ });
  assert.match(await row.innerText(), /offline · 0\/3/);
  assert.match(await row.innerText(), /never signed in/);
  // Controls in the dialog are styled, not the browser's bare ones.
  const bare = await screen.evaluate((el) =>
    [...el.querySelectorAll("select, button, input:not([type=checkbox])")].filter((c) => {
      const st = getComputedStyle(c);
      return st.borderTopStyle === "none" && st.backgroundColor === "rgba(0, 0, 0, 0)" && c.tagName !== "BUTTON";
    }).length,
  );
  assert.equal(bare, 0);
  await admin.screenshot({ path: `${shots}/agentui-agents-screen.png`, fullPage: true });
  await admin.keyboard.press("Escape");
  await eventually(async () => (await admin.getByRole("dialog").count()) === 0, { what: "Escape closes the Agents screen" });
});

test("the transfer form is a dialog too: Escape cancels it", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  const { widget, send } = await import("./harness.mjs");
  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "hello");
  await admin.locator("[data-testid=inbox-item][data-status=open]").click();
  await admin.getByRole("button", { name: "Transfer" }).click();
  const dialog = admin.getByRole("dialog", { name: "Transfer the conversation" });
  await dialog.waitFor();
  await eventually(() => inDialog(admin), { what: "focus in the transfer dialog" });
  await admin.screenshot({ path: `${shots}/agentui-transfer-dialog.png` });
  await admin.keyboard.press("Escape");
  await eventually(async () => (await dialog.count()) === 0, { what: "Escape closes it" });
  await v.ctx.close();
});
