// Auto-translation as people meet it, in real Chromium against the real
// binary with Debian's Apertium (make test-deps installs it): a Spanish
// visitor and an agent who speaks English only. Routing holds the Spanish
// visitor for a Spanish speaker, relaxes to any language (marked
// "translate"), and from then each side reads the other in its own
// language, the original one click away. Screenshots go to
// PARLEY_SCREENSHOTS (a directory), /tmp by default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { setUp, signInAgent, send, bodies, eventually, call, online, widget, meId, demoSiteId, openChat } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

function apertiumPairs() {
  try {
    return execFileSync("apertium", ["-l"], { encoding: "utf8" });
  } catch {
    return "";
  }
}

test("a Spanish visitor and an English agent each read the other in their own language", async (t) => {
  if (!/\bspa-eng\b/.test(apertiumPairs())) {
    if (process.env.CI) assert.fail("apertium with eng-spa is needed (make test-deps installs it)");
    t.skip("apertium with eng-spa is not installed (make test-deps installs it)");
    return;
  }
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await online(admin);
  assert.equal((await call(admin, "PATCH", `/api/agents/${await meId(admin)}`, { languages: ["en"] })).status, 200);
  // Relax to any language after a second, not the default minute.
  const site = await demoSiteId(s.url);
  const relax = await call(admin, "PATCH", `/api/sites/${site}/routing`, { relax_after_seconds: [1] });
  assert.equal(relax.status, 200, JSON.stringify(relax.json));

  const es = await widget(e2e.browser, s.url, "es-ES");
  await es.frame.locator("[data-testid=composer]").waitFor();
  const question = "Hola, mi pedido no ha llegado todavía.";
  await send(es.frame, question);
  await eventually(async () => (await es.frame.locator("[data-testid=agent-name]").innerText()) === "Admin", {
    what: "the Spanish visitor served by the English-speaking admin", timeout: 30_000,
  });

  // The agent reads the visitor in English, marked, the Spanish one click away.
  await openChat(admin, question);
  const visitorMsg = admin.locator("[data-testid=message][data-author-kind=visitor]").first();
  await eventually(async () => /has not arrived/.test(await visitorMsg.locator("[data-testid=message-body]").innerText()), {
    what: "the visitor's message in English", timeout: 60_000,
  });
  assert.match(await visitorMsg.locator("[data-testid=translated]").innerText(), /Translated from es by apertium/);
  await admin.screenshot({ path: `${shots}/translate-agent.png` });
  await visitorMsg.locator("[data-testid=toggle-original]").click();
  assert.equal(await visitorMsg.locator("[data-testid=message-body]").innerText(), question);
  await visitorMsg.locator("[data-testid=toggle-original]").click();
  assert.match(await visitorMsg.locator("[data-testid=message-body]").innerText(), /has not arrived/);

  // The agent answers in English; the visitor reads it in Spanish.
  const reply = "Your package arrives tomorrow. Thank you for waiting!";
  await send(admin, reply);
  const agentMsg = es.frame.locator("[data-testid=message][data-author-kind=agent]").last();
  await eventually(async () => /mañana/.test(await agentMsg.locator("[data-testid=message-body]").innerText()), {
    what: "the agent's reply in Spanish", timeout: 60_000,
  });
  assert.match(await agentMsg.locator("[data-testid=translated]").innerText(), /Traducido automáticamente/);
  await es.page.screenshot({ path: `${shots}/translate-widget.png` });
  await agentMsg.locator("[data-testid=toggle-original]").click();
  assert.equal(await agentMsg.locator("[data-testid=message-body]").innerText(), reply);
  await es.page.screenshot({ path: `${shots}/translate-widget-original.png` });
  // The agent's own reply shows as written on the agent's side, marked
  // with what it was translated into, the visitor's version one click away.
  assert.ok((await bodies(admin)).includes(reply));
  const own = admin.locator("[data-testid=message][data-author-kind=agent]").last();
  await own.locator("[data-testid=translated]", { hasText: "Translated to Spanish by apertium" }).waitFor();
  assert.equal(await own.locator("[data-testid=message-body]").innerText(), reply);
  await own.locator("[data-testid=toggle-original]").click();
  assert.match(await own.locator("[data-testid=message-body]").innerText(), /mañana/);
  await admin.screenshot({ path: `${shots}/translate-agent-own-reply.png` });
  await own.locator("[data-testid=toggle-original]").click();
  assert.equal(await own.locator("[data-testid=message-body]").innerText(), reply);

  // After a reload both translations come back with the history (cached).
  await es.page.reload();
  await es.page.click("#parley-launcher");
  const again = es.frame.locator("[data-testid=message][data-author-kind=agent]").last();
  await eventually(async () => /mañana/.test(await again.locator("[data-testid=message-body]").innerText()), { what: "the translation after a reload" });
  await es.ctx.close();
});

test("an admin chooses the translation provider, tests it and saves it; the key is never shown again", async (t) => {
  // A local OpenAI-compatible endpoint that translates everything into
  // the same Spanish sentence, and remembers the key it was sent.
  const http = await import("node:http");
  const keys = [];
  const model = http.createServer(async (req, res) => {
    for await (const _ of req);
    keys.push(req.headers.authorization);
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    res.end(`data: ${JSON.stringify({ choices: [{ delta: { content: "¡Hola! Su pedido ha sido enviado." } }] })}\n\ndata: [DONE]\n\n`);
  });
  await new Promise((r) => model.listen(0, "127.0.0.1", r));
  t.after(() => model.close());

  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  const site = await demoSiteId(s.url);
  await admin.locator("[data-testid=open-knowledge]").click();
  const form = admin.locator("[data-testid=translation-settings]");
  await form.waitFor();
  assert.equal(await form.locator("[data-testid=translation-provider]").inputValue(), "default");

  if (/\bspa-eng\b|\beng-spa\b/.test(apertiumPairs())) {
    await form.locator("[data-testid=translation-provider]").selectOption("apertium");
    await form.locator("[data-testid=translation-test]").click();
    await form.locator("[data-testid=translation-note]", { hasText: "Works (en → es" }).waitFor();
  }

  await form.locator("[data-testid=translation-provider]").selectOption("openai");
  await form.locator("[data-testid=translation-url]").fill(`http://127.0.0.1:${model.address().port}/v1`);
  await form.locator("[data-testid=translation-model]").fill("tiny-translator");
  await form.locator("[data-testid=translation-key]").fill("sk-translate-secret");
  await form.locator("[data-testid=translation-test]").click();
  await form.locator("[data-testid=translation-note]", { hasText: "¡Hola! Su pedido ha sido enviado." }).waitFor();
  assert.deepEqual(keys, ["Bearer sk-translate-secret"], "the test used the key typed, before saving");
  await form.locator("[data-testid=translation-save]").click();
  await form.locator("[data-testid=translation-note]", { hasText: "Saved." }).waitFor();
  assert.equal(await form.locator("[data-testid=translation-key]").inputValue(), "");
  assert.equal(await form.locator("[data-testid=translation-key]").getAttribute("placeholder"), "saved (type to replace)");
  await form.scrollIntoViewIfNeeded();
  await admin.screenshot({ path: `${shots}/translation-settings.png` });
  const stored = await call(admin, "GET", `/api/sites/${site}/translation`);
  assert.equal(stored.json.translation.provider, "openai");
  assert.equal(stored.json.translation.key_set, true);
  assert.doesNotMatch(JSON.stringify(stored.json), /sk-translate/);

  // A failing endpoint is reported, not saved.
  await form.locator("[data-testid=translation-url]").fill("http://127.0.0.1:1/v1");
  await form.locator("[data-testid=translation-test]").click();
  await form.locator("[data-testid=translation-note]", { hasText: "Test failed" }).waitFor();
  await admin.screenshot({ path: `${shots}/translation-settings-failed.png` });
  assert.equal((await call(admin, "GET", `/api/sites/${site}/translation`)).json.translation.url, `http://127.0.0.1:${model.address().port}/v1`);
});
