// Routing as people meet it, in real Chromium against the real binary: a
// French-speaking visitor reaches the French-speaking agent; a visitor who
// waits sees the queue and is served when capacity frees; with nobody online
// the widget takes an offline message; a transfer between two agents is seen
// by all three browsers (those two in routing-transfer.test.mjs; offers and
// the pre-chat choice in routing-offer.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  setUp, signInAgent, send, bodies, eventually, call, newAgent, online, widget, meId,
} from "./harness.mjs";

const e2e = setUp();

test("a visitor whose browser speaks French reaches the French-speaking agent, not the English one", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  assert.equal((await call(admin, "PATCH", `/api/agents/${await meId(admin)}`, { languages: ["en"] })).status, 200);
  const fleur = await newAgent(e2e.browser, admin, s.url, "Fleur", { languages: ["fr"], capacity: 3 });

  const fr = await widget(e2e.browser, s.url, "fr-FR");
  assert.equal(await fr.page.evaluate(() => navigator.language), "fr-FR");
  await fr.frame.locator("[data-testid=composer]").waitFor();
  await send(fr.frame, "Bonjour, avez-vous cette chaussure en 42 ?");
  await eventually(async () => (await fr.frame.locator("[data-testid=agent-name]").innerText()) === "Fleur", { what: "French visitor served by Fleur" });
  await fleur.page.locator("[data-testid=inbox-item][data-status=open]").first().click();
  await eventually(async () => (await bodies(fleur.page)).includes("Bonjour, avez-vous cette chaussure en 42 ?"), { what: "Fleur sees the message" });

  const en = await widget(e2e.browser, s.url, "en-US");
  await en.frame.locator("[data-testid=composer]").waitFor();
  await send(en.frame, "Hello, do you ship to Norway?");
  await eventually(async () => (await en.frame.locator("[data-testid=agent-name]").innerText()) === "Admin", { what: "English visitor served by the admin" });
  assert.equal(await admin.locator("[data-testid=inbox-item][data-status=open]").count(), 1, "the admin has only the English chat");
  await fr.ctx.close();
  await en.ctx.close();
});

test("a second visitor sees position 1 and an estimate, then is assigned when capacity frees", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  assert.equal((await call(admin, "PATCH", `/api/agents/${await meId(admin)}`, { capacity: 1 })).status, 200);

  const v1 = await widget(e2e.browser, s.url);
  await v1.frame.locator("[data-testid=composer]").waitFor();
  await send(v1.frame, "First visitor here");
  await v1.frame.locator("[data-testid=agent-name]").waitFor();

  const v2 = await widget(e2e.browser, s.url);
  await v2.frame.locator("[data-testid=composer]").waitFor();
  await send(v2.frame, "Second visitor, waiting");
  const status = v2.frame.locator("[data-testid=queue-status]");
  await eventually(async () => /number 1, about \d+ min/.test(await status.innerText()), { what: "position 1 and an estimate in the widget" });
  // The dashboard shows the queue.
  await admin.locator("[data-testid=queue-entry][data-position='1']").waitFor();

  // The admin ends the first chat: the second visitor gets the admin.
  await admin.locator("[data-testid=inbox-item][data-status=open]").first().click();
  await eventually(async () => (await bodies(admin)).includes("First visitor here"), { what: "first chat open" });
  await admin.locator("[data-testid=close-conversation]").click();
  await eventually(async () => (await v2.frame.locator("[data-testid=agent-name]").count()) === 1, { what: "second visitor assigned" });
  assert.equal(await v2.frame.locator("[data-testid=queue-status]").count(), 0);
  await admin.locator("[data-testid=queue-entry]").waitFor({ state: "detached" });
  await v1.ctx.close();
  await v2.ctx.close();
});

