// The site assistant as a visitor and an agent meet it: it answers from the
// site's help articles with a link to the article on the public help page,
// offers a person when the articles do not answer, hands the visitor to a
// person who then reads the assistant's part and its summary, streams a
// model's answer into the chat as it is written, and answers outside
// business hours instead of the offline form when the site says so.
// Screenshots go to PARLEY_SCREENSHOTS (a directory) when it is set.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { join } from "node:path";
import { setUp, signInAgent, send, bodies, eventually, call, online, widget } from "./harness.mjs";

const e2e = setUp();

async function shot(page, name) {
  const dir = process.env.PARLEY_SCREENSHOTS;
  if (dir) await page.screenshot({ path: join(dir, name + ".png") });
}

const REFUNDS = {
  title: "Refunds",
  body: "# Refunds\n\nRefunds reach your card within five business days after we receive the returned parcel.",
  tags: ["billing"],
  language: "en",
  published: true,
};
const SHIPPING = {
  title: "Shipping",
  body: "# Shipping\n\nWe ship to every country in Europe. Parcels leave our warehouse within two days.",
  tags: ["orders"],
  language: "en",
  published: true,
};

/** A server, its admin signed in, the demo site's id, and the articles. */
async function siteWithArticles() {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  const site = (await call(admin, "GET", "/api/sites")).json.sites[0].id;
  for (const a of [REFUNDS, SHIPPING]) {
    const res = await call(admin, "POST", `/api/sites/${site}/articles`, a);
    assert.equal(res.status, 201, JSON.stringify(res.json));
  }
  return { s, admin, site };
}

async function setAssistant(admin, site, settings) {
  const res = await call(admin, "PUT", `/api/sites/${site}/assistant`, settings);
  assert.equal(res.status, 200, JSON.stringify(res.json));
}

const answers = (v) => v.frame.locator("[data-testid=message][data-author-kind=assistant]");

test("the assistant answers with a source link, offers a person when unsure, and hands off with a summary", async () => {
  const { s, admin, site } = await siteWithArticles();
  await setAssistant(admin, site, { mode: "first", provider: "builtin" });
  await online(admin);

  const v = await widget(e2e.browser, s.url);
  await send(v.frame, "How long do refunds take to reach my card?");
  const first = answers(v).first();
  await first.waitFor();
  assert.match(await first.locator("[data-testid=message-body]").innerText(), /five business days/);
  assert.equal(await first.locator(".pw-msg-author").innerText(), "Assistant", "labelled as the assistant, not a person");
  await v.frame.locator("[data-testid=assistant-status]").getByText("You are chatting with our assistant").waitFor();
  // The header says who answers (the agent is online, but not in this chat).
  await v.frame.locator("[data-testid=conn-state]", { hasText: "Our assistant is answering" }).waitFor();
  const link = first.locator("[data-testid=source]");
  assert.equal(await link.innerText(), "Refunds");
  const href = await link.getAttribute("href");
  assert.match(href, new RegExp(`^${s.url}/help/${site}/[0-9a-f-]{36}$`));
  const page = await (await fetch(href)).text();
  assert.match(page, /<h1>Refunds<\/h1>/);
  assert.match(page, /five business days/);
  await shot(v.page, "widget-assistant-answer");

  // The articles say nothing about this: a person is offered.
  await send(v.frame, "Can I bring my parrot to the concert hall?");
  await eventually(async () => (await answers(v).count()) === 2, { what: "the second answer" });
  const second = answers(v).nth(1);
  assert.match(await second.innerText(), /talk to a person/i);
  assert.equal(await second.locator("[data-testid=source]").count(), 0, "no source for a question the articles do not answer");
  await second.getByRole("button", { name: "Talk to a person" }).waitFor();
  await shot(v.page, "widget-assistant-unsure");

  // One tap: the conversation goes to routing, and the online admin gets it.
  await v.frame.locator("[data-testid=assistant-status] [data-testid=handoff]").click();
  await v.frame.locator("[data-testid=agent-name]").waitFor();
  await v.frame.getByText("Connecting you with a person…").waitFor();
  await v.frame.locator("[data-testid=handoff]").first().waitFor({ state: "detached" });

  const item = admin.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(admin)).some((b) => b.startsWith("Summary from the assistant:")), { what: "the agent sees the summary" });
  const seen = await bodies(admin);
  const summary = seen.find((b) => b.startsWith("Summary from the assistant:"));
  assert.match(summary, /How long do refunds take/);
  assert.match(summary, /Answered from: Refunds/);
  assert.match(summary, /Could not answer: .*parrot/);
  assert.match(summary, /the visitor asked for a person/);
  assert.ok(seen.some((b) => /five business days/.test(b)), "the agent sees the assistant's answers");
  assert.ok(!seen.includes("Connecting you with a person…"), "the visitor's notice is not the agent's");
  await shot(admin, "agent-handoff-summary");

  // The person answers in the same chat.
  await send(admin, "Hi, I am a person. Parrots are welcome in a cage.");
  await eventually(async () => (await bodies(v.frame)).includes("Hi, I am a person. Parrots are welcome in a cage."), { what: "the person's reply" });
  await v.ctx.close();
});

test("a French visitor reads the assistant's header and the hand-off notice in French", async () => {
  const { s, admin, site } = await siteWithArticles();
  await setAssistant(admin, site, { mode: "first", provider: "builtin" });
  const v = await widget(e2e.browser, s.url, "fr-FR");
  await send(v.frame, "How long do refunds take to reach my card?");
  await answers(v).first().waitFor();
  const header = v.frame.locator("[data-testid=conn-state]");
  await header.getByText("Notre assistant vous répond").waitFor();
  assert.equal(await header.getAttribute("class"), "pw-conn pw-conn-online", "the assistant is there: not away");
  await shot(v.page, "widget-assistant-answering-fr");
  await v.frame.getByRole("button", { name: "Parler à une personne" }).first().click();
  await v.frame.getByText("Nous vous mettons en relation avec une personne…").waitFor();
  assert.ok(!(await bodies(v.frame)).includes("Connecting you with a person…"), "no English notice");
  await shot(v.page, "widget-handoff-fr");
  await v.ctx.close();
});

test("a model's answer streams into the chat as it is written", async (t) => {
  // A local OpenAI-compatible endpoint: it sends the answer's first words,
  // then holds the rest until the visitor's widget shows them.
  let release;
  const released = new Promise((r) => (release = r));
  const requests = [];
  const model = http.createServer(async (req, res) => {
    let body = "";
    for await (const c of req) body += c;
    requests.push({ auth: req.headers.authorization, body: JSON.parse(body) });
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    const chunk = (content) => res.write(`data: ${JSON.stringify({ choices: [{ delta: { content } }] })}\n\n`);
    chunk("Refunds reach your card");
    await released;
    chunk(" within five business days [1].");
    res.end("data: [DONE]\n\n");
  });
  await new Promise((r) => model.listen(0, "127.0.0.1", r));
  t.after(() => model.close());

  const { s, admin, site } = await siteWithArticles();
  await setAssistant(admin, site, {
    mode: "first",
    provider: "openai",
    url: `http://127.0.0.1:${model.address().port}/v1`,
    model: "tiny-test",
    key: "sk-test-key",
  });
  const v = await widget(e2e.browser, s.url);
  await send(v.frame, "How long do refunds take?");
  const draft = v.frame.locator("[data-testid=draft]");
  await draft.waitFor();
  assert.equal(await draft.locator("[data-testid=message-body]").innerText(), "Refunds reach your card");
  await shot(v.page, "widget-assistant-streaming");
  release();
  const answer = answers(v).first();
  await answer.waitFor();
  await draft.waitFor({ state: "detached" });
  assert.equal(await answer.locator("[data-testid=message-body]").innerText(), "Refunds reach your card within five business days [1].");
  assert.equal(await answer.locator("[data-testid=source]").innerText(), "Refunds");
  assert.equal(requests.length, 1);
  assert.equal(requests[0].auth, "Bearer sk-test-key");
  assert.equal(requests[0].body.model, "tiny-test");
  assert.ok(requests[0].body.stream, "asked to stream");
  await v.ctx.close();
});

test("outside business hours the assistant answers instead of the offline form", async () => {
  const { s, admin, site } = await siteWithArticles();
  await online(admin);
  // Open one minute a day, twelve hours from now: closed now, with an
  // agent online.
  const open = new Date(Date.now() + 12 * 3600_000);
  const hhmm = (d) => d.toISOString().slice(11, 16);
  const slot = `${hhmm(open)}-${hhmm(open) === "23:59" ? "24:00" : hhmm(new Date(open.getTime() + 60_000))}`;
  const hours = Object.fromEntries(["sun", "mon", "tue", "wed", "thu", "fri", "sat"].map((d) => [d, [slot]]));
  const set = await call(admin, "PATCH", `/api/sites/${site}/routing`, { business_hours: hours, time_zone: "UTC" });
  assert.equal(set.status, 200, JSON.stringify(set.json));

  // Assistant off: the offline form.
  const closed = await widget(e2e.browser, s.url);
  await closed.frame.getByRole("button", { name: "Send message" }).waitFor();
  assert.equal(await closed.frame.locator("[data-testid=composer]").count(), 0);
  await closed.ctx.close();

  // Only when nobody can chat: the chat, and the assistant answers.
  await setAssistant(admin, site, { mode: "fallback", provider: "builtin" });
  const v = await widget(e2e.browser, s.url);
  await send(v.frame, "Do you ship to every country in Europe?");
  const answer = answers(v).first();
  await answer.waitFor();
  assert.match(await answer.innerText(), /every country in Europe/);
  assert.equal(await answer.locator("[data-testid=source]").innerText(), "Shipping");
  assert.equal(await v.frame.locator("[data-testid=offline-notice]").count(), 0, "no offline form");
  await shot(v.page, "widget-assistant-after-hours");
  await v.ctx.close();
});

test("an admin writes, imports, edits and deletes articles and turns the assistant on from the Knowledge screen", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  const site = (await call(admin, "GET", "/api/sites")).json.sites[0].id;
  await admin.locator("[data-testid=open-knowledge]").click();
  const kb = admin.locator("[data-testid=knowledge]");
  await kb.waitFor();
  assert.equal(await kb.locator("[data-testid=kb-help-link]").getAttribute("href"), `/help/${site}`);

  // Write one.
  await kb.locator("[data-testid=article-new]").click();
  const form = admin.locator("[data-testid=article-form]");
  await form.locator("[data-testid=article-title]").fill("Gift cards");
  await form.locator("[data-testid=article-body]").fill("# Gift cards\n\nGift cards are valid for three years and work in every shop.");
  await form.locator("[data-testid=article-tags]").fill("billing, cards");
  await form.locator("[data-testid=article-save]").click();
  await kb.locator("[data-testid=article-row]", { hasText: "Gift cards" }).waitFor();

  // Import two files: Markdown and HTML.
  await kb.locator("[data-testid=kb-files]").setInputFiles([
    { name: "returns.md", mimeType: "text/markdown", buffer: Buffer.from("# Returns\n\nYou can return shoes within thirty days, unworn, with the receipt.") },
    { name: "stores.html", mimeType: "text/html", buffer: Buffer.from("<html><head><title>Store hours</title></head><body><h1>Store hours</h1><p>Our stores open at nine and close at seven.</p></body></html>") },
  ]);
  await kb.locator("[data-testid=kb-import-send]").click();

  await kb.locator("[data-testid=kb-note]", { hasText: "Imported 2 articles." }).waitFor();
  await kb.locator("[data-testid=article-row]", { hasText: "Store hours" }).waitFor();
  await kb.locator("[data-testid=article-row]", { hasText: "Returns" }).waitFor();

  // Edit: the returns window grows; delete: store hours go.
  await kb.locator("[data-testid=article-row]", { hasText: "Returns" }).locator("[data-testid=article-edit]").click();
  await form.locator("[data-testid=article-body]").fill("# Returns\n\nYou can return shoes within sixty days, unworn, with the receipt.");
  await form.locator("[data-testid=article-save]").click();
  await kb.locator("[data-testid=kb-note]", { hasText: "Saved “Returns”." }).waitFor();
  await kb.locator("[data-testid=article-row]", { hasText: "Store hours" }).locator("[data-testid=article-delete]").click();
  await admin.getByRole("button", { name: "Delete the article" }).click();
  await kb.locator("[data-testid=article-row]", { hasText: "Store hours" }).waitFor({ state: "detached" });
  assert.equal(await kb.locator("[data-testid=article-row]").count(), 2);
  const help = await (await fetch(`${s.url}/help/${site}`)).text();
  assert.match(help, /Gift cards/);
  assert.match(help, /Returns/);
  assert.doesNotMatch(help, /Store hours/);

  // The assistant: an OpenAI-compatible endpoint with a key the screen
  // never shows again, then the built-in one, answering first.
  const settings = kb.locator("[data-testid=assistant-settings]");
  await settings.locator("[data-testid=assistant-provider]").selectOption("openai");
  await settings.locator("[data-testid=assistant-url]").fill("http://127.0.0.1:11434/v1");
  await settings.locator("[data-testid=assistant-model]").fill("llama3.2");
  await settings.locator("[data-testid=assistant-key]").fill("sk-secret-never-echoed");
  await settings.locator("[data-testid=assistant-save]").click();
  await settings.locator("[data-testid=assistant-note]", { hasText: "Saved. The assistant is off." }).waitFor();
  assert.equal(await settings.locator("[data-testid=assistant-key]").inputValue(), "");
  assert.equal(await settings.locator("[data-testid=assistant-key]").getAttribute("placeholder"), "saved (type to replace)");
  const stored = await call(admin, "GET", `/api/sites/${site}/assistant`);
  assert.deepEqual(stored.json.assistant, { mode: "off", provider: "openai", url: "http://127.0.0.1:11434/v1", model: "llama3.2", key_set: true });
  assert.doesNotMatch(JSON.stringify(stored.json), /sk-secret/);
  await shot(admin, "knowledge-screen-openai");

  await settings.locator("[data-testid=assistant-mode]").selectOption("first");
  await settings.locator("[data-testid=assistant-provider]").selectOption("builtin");
  await settings.locator("[data-testid=assistant-save]").click();
  await settings.locator("[data-testid=assistant-note]", { hasText: "Saved. The assistant is on." }).waitFor();
  await shot(admin, "knowledge-screen");

  // A visitor gets the edited article's answer.
  const v = await widget(e2e.browser, s.url);
  await send(v.frame, "How many days do I have to return shoes?");
  const answer = answers(v).first();
  await answer.waitFor();
  assert.match(await answer.innerText(), /sixty days/);
  assert.equal(await answer.locator("[data-testid=source]").innerText(), "Returns");
  await v.ctx.close();
});
