// Ownership after a transfer (issue 20, defect 3), in real Chromium: once
// Ann hands a chat to Bob her view of it is read-only (no reply box, no
// Close, no Transfer) with a sentence saying who has it, while Bob answers
// and she reads along.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, bodies, eventually, call, newAgent, online, widget, meId } from "./harness.mjs";

const e2e = setUp();

test("the previous owner's view of a transferred chat is read-only", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  // The admin takes no chats here: Ann is served first.
  assert.equal((await call(admin, "PATCH", `/api/agents/${await meId(admin)}`, { capacity: 0 })).status, 200);
  const ann = await newAgent(e2e.browser, admin, s.url, "Ann", { role: "agent" });

  const v = await widget(e2e.browser, s.url);
  await v.frame.locator("[data-testid=composer]").waitFor();
  await send(v.frame, "Hello, I was charged twice");
  await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Ann", { what: "Ann serves the visitor" });

  const bob = await newAgent(e2e.browser, admin, s.url, "Bob", { role: "agent" });
  await ann.page.locator("[data-testid=inbox-item][data-status=open]").first().click();
  await send(ann.page, "Let me pass you to Bob, he handles billing.");
  await ann.page.getByRole("button", { name: "Transfer" }).click();
  const to = ann.page.getByRole("combobox", { name: "To" });
  await to.locator(`option[value="agent:${bob.id}"]:not([disabled])`).waitFor({ state: "attached" });
  await to.selectOption(`agent:${bob.id}`);
  await ann.page.getByRole("button", { name: "Transfer" }).last().click();

  // Ann: read-only, and told who has it now.
  await ann.page.getByText("Bob handles this conversation now").waitFor();
  assert.equal(await ann.page.getByRole("textbox", { name: "Reply" }).count(), 0, "no reply box for the previous owner");
  assert.equal(await ann.page.getByRole("button", { name: "Close", exact: true }).count(), 0, "no Close for the previous owner");
  assert.equal(await ann.page.getByRole("button", { name: /Transfer|Reassign/ }).count(), 0, "no Transfer for the previous owner");
  assert.equal(await ann.page.getByRole("button", { name: "Change" }).count(), 0, "no Change of the chat's needs for the previous owner");
  await ann.page.screenshot({ path: "/tmp/routing-ownership-previous-owner.png" });

  // Bob answers and the previous owner still reads along.
  const mine = bob.page.locator("[data-testid=inbox-item][data-status=open]");
  await mine.waitFor();
  await mine.click();
  await send(bob.page, "Hi, Bob here, I'll refund the second charge.");
  await eventually(async () => (await bodies(v.frame)).includes("Hi, Bob here, I'll refund the second charge."), { what: "visitor sees Bob" });
  await eventually(async () => (await bodies(ann.page)).includes("Hi, Bob here, I'll refund the second charge."), { what: "Ann reads along" });

  await v.ctx.close();
});
