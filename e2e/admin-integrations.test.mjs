// The admin's integration and privacy screens, used as an admin would:
// API tokens (create, shown once, call /api/v1 with it, last used, revoke),
// webhooks (a receiver on 127.0.0.1 that fails once; the test event in the
// delivery log with its status code and answer, retried, replayed; edited
// to another receiver, which gets the next delivery), and
// Data & privacy (find a visitor by email, download their export, delete
// them with a typed confirmation, see it in the audit log).
// Loopback webhook URLs are refused by design; PARLEY_WEBHOOK_ALLOW_PRIVATE
// is the server's own switch for this (as in pkg/service's webhook tests).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setUp, signInAgent, openWidget, openChat, send, eventually, call } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS;
async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, name + ".png") });
}

/** receiver is a webhook endpoint on 127.0.0.1 that answers 500 to its
 * first request and 200 after, keeping every request. */
async function receiver() {
  const got = [];
  const srv = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      got.push({ headers: req.headers, body: JSON.parse(body) });
      if (got.length === 1) {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end("busy, try later");
      } else {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end('{"ok":true}');
      }
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}/parley`, got, close: () => new Promise((r) => srv.close(r)) };
}

test("admin screens: API tokens, webhooks with their delivery log, a visitor's export and deletion", async () => {
  const server = await e2e.server({ env: { PARLEY_WEBHOOK_ALLOW_PRIVATE: "on", PARLEY_WEBHOOK_RETRY_BASE: "1s" } });
  const admin = await signInAgent(e2e.browser, server.url);
  const rcv = await receiver();
  try {
    // API tokens: create one; it is shown once, with a warning and a copy button.
    await admin.click("[data-testid=open-tokens]");
    const tokens = admin.locator("[data-testid=tokens-admin]");
    await tokens.locator("text=No tokens yet.").waitFor();
    await admin.fill("[data-testid=token-name]", "CRM sync");
    await admin.selectOption("[data-testid=token-scope]", "write");
    await admin.click("[data-testid=token-create]");
    const secret = (await tokens.locator("[data-testid=shown-secret]").innerText()).trim();
    assert.match(secret, /^pk_/);
    assert.match(await tokens.locator("[data-testid=shown-once]").innerText(), /shown only this once/);
    await tokens.locator("[data-testid=copy-secret]").waitFor();
    const row = tokens.locator("[data-testid=token-row][data-name='CRM sync']");
    assert.match(await row.innerText(), /Read and write/);
    assert.match(await row.locator("[data-testid=token-used]").innerText(), /Never/);
    await shot(admin, "admin-tokens-created");

    // The token calls the REST API.
    const v1 = (path) => fetch(server.url + path, { headers: { Authorization: "Bearer " + secret } });
    let res = await v1("/api/v1/conversations");
    assert.equal(res.status, 200, await res.clone().text());

    // Reopened, the list shows it used and no longer shows the secret.
    await admin.click("[data-testid=dialog-close]");
    await admin.click("[data-testid=open-tokens]");
    await eventually(async () => !/Never/.test(await row.locator("[data-testid=token-used]").innerText()), { what: "last used" });
    assert.equal(await tokens.locator("[data-testid=shown-secret]").count(), 0);
    await shot(admin, "admin-tokens-list");

    // Webhooks: subscribe the receiver; its signing secret is shown once.
    await admin.click("[data-testid=dialog-close]");
    await admin.click("[data-testid=open-webhooks]");
    const hooks = admin.locator("[data-testid=webhooks-admin]");
    await admin.fill("[data-testid=webhook-url]", rcv.url);
    await admin.check("[data-testid='webhook-event-conversation.started']");
    await admin.click("[data-testid=webhook-create]");
    assert.match(await hooks.locator("[data-testid=shown-secret]").innerText(), /^whsec_/);
    await hooks.locator("[data-testid=webhook-row]", { hasText: rcv.url }).waitFor();
    await shot(admin, "admin-webhooks-created");

    // A test event: the first attempt gets 500 (logged with the answer),
    // the retry 200.
    await hooks.locator("[data-testid=webhook-test]").click();
    const log = hooks.locator("[data-testid=delivery-log]");
    const delivery = log.locator("[data-testid=delivery-row][data-event='webhook.test']");
    await eventually(async () => (await delivery.first().getAttribute("data-status")) === "delivered", { what: "the test event delivered", timeout: 30_000 });
    assert.equal(rcv.got.length, 2);
    assert.equal(rcv.got[1].body.type, "webhook.test");
    assert.ok(rcv.got[1].headers["parley-signature"]);
    assert.equal((await delivery.first().locator("[data-testid=delivery-code]").innerText()).trim(), "200");
    assert.match(await delivery.first().innerText(), /\{"ok":true\}/);
    await shot(admin, "admin-webhooks-log");

    // A visitor starts a conversation: conversation.started reaches the receiver.
    const visitor = await openWidget(e2e.browser, server.url);
    await send(visitor.frame, "Please delete my data after this");
    await eventually(() => rcv.got.some((r) => r.body.type === "conversation.started"), { what: "conversation.started" });
    const started = rcv.got.find((r) => r.body.type === "conversation.started");

    // Replay it from the log: the same event again, as a new delivery.
    await eventually(async () => (await log.locator("[data-testid=delivery-row][data-event='conversation.started'][data-status=delivered]").count()) === 1, {
      what: "conversation.started in the log",
    });
    const before = rcv.got.length;
    await log.locator("[data-testid=delivery-row][data-event='conversation.started'] [data-testid=delivery-replay]").click();
    await eventually(() => rcv.got.length === before + 1, { what: "the replay" });
    assert.equal(rcv.got[before].body.id, started.body.id);
    assert.notEqual(rcv.got[before].headers["parley-delivery"], started.headers["parley-delivery"]);
    await eventually(async () => (await log.locator("[data-testid=delivery-row][data-event='conversation.started']").count()) === 2, { what: "the replay in the log" });

    // Edit the webhook: a new receiver and one more event; the next
    // delivery goes to the new URL, none to the old one.
    const moved = await receiver();
    try {
      const sentBefore = rcv.got.length;
      await hooks.getByRole("button", { name: `Edit ${rcv.url}` }).click();
      assert.equal(await admin.locator("[data-testid=webhook-url]").inputValue(), rcv.url);
      assert.ok(await admin.locator("[data-testid='webhook-event-conversation.started']").isChecked());
      await admin.fill("[data-testid=webhook-url]", moved.url);
      await admin.check("[data-testid='webhook-event-conversation.closed']");
      await shot(admin, "admin-webhooks-edit");
      await admin.click("[data-testid=webhook-save]");
      await hooks.locator("[data-testid=screen-note]", { hasText: "Webhook saved." }).waitFor();
      const edited = hooks.locator("[data-testid=webhook-row]", { hasText: moved.url });
      await edited.waitFor();
      assert.match(await edited.innerText(), /Conversation started[\s\S]*Conversation closed/);
      assert.equal(await hooks.locator("[data-testid=webhook-row]", { hasText: rcv.url }).count(), 0);
      await edited.locator("[data-testid=webhook-test]").click();
      await eventually(() => moved.got.some((r) => r.body.type === "webhook.test"), { what: "the test event at the new URL" });
      assert.ok(moved.got[0].headers["parley-signature"]);
      assert.equal(rcv.got.length, sentBefore, "nothing more went to the old URL");
    } finally {
      await moved.close();
    }

    // The visitor's email, as an agent records it; the token finds the visitor.
    const vs = await (await v1("/api/v1/visitors")).json();
    assert.equal(vs.data.length, 1);
    const visitorId = vs.data[0].id;
    const email = "jane.doe@example.com";
    assert.equal((await call(admin, "PATCH", `/api/visitors/${visitorId}`, { name: "Jane Doe", email })).status, 200);

    // With the email known, the conversation offers to mail the visitor the
    // transcript; mail is off in this workspace, and the agent is told so
    // (the mail itself is pkg/service's TestTranscriptIsMailedToTheVisitor).
    await admin.reload();
    await openChat(admin, "Please delete my data after this");
    await admin.click("[data-testid=email-transcript]");
    assert.match(await admin.locator("[data-testid=transcript-note]").innerText(), /email is off/);
    await shot(admin, "admin-transcript-mail-off");
    await admin.click("[data-testid=open-webhooks]");

    // Revoke the token: the API refuses it at once.
    await admin.click("[data-testid=dialog-close]");
    await admin.click("[data-testid=open-tokens]");
    await row.getByRole("button", { name: "Revoke CRM sync" }).click();
    await shot(admin, "admin-tokens-revoke-confirm");
    await admin.getByRole("dialog", { name: "Revoke the token?" }).getByRole("button", { name: "Revoke the token" }).click();
    await eventually(async () => /Revoked/.test(await row.innerText()), { what: "revoked in the list" });
    res = await v1("/api/v1/conversations");
    assert.equal(res.status, 401);

    // Data & privacy: retention, then find the visitor by email and export.
    await admin.click("[data-testid=dialog-close]");
    await admin.click("[data-testid=open-privacy]");
    await admin.fill("[data-testid=retain-pages]", "90");
    await admin.click("[data-testid=retention-save]");
    await admin.locator("text=Saved. Older data is deleted within the hour.").waitFor();
    assert.equal((await call(admin, "GET", "/api/workspace/retention")).json.retention.page_views_days, 90);
    await admin.fill("[data-testid=privacy-email]", email.toUpperCase());
    await admin.click("[data-testid=privacy-find]");
    const found = admin.locator("[data-testid=privacy-visitor]");
    await found.waitFor();
    assert.equal(await found.count(), 1);
    assert.match(await found.innerText(), /Jane Doe/);
    await shot(admin, "admin-privacy-found");
    const [download] = await Promise.all([admin.waitForEvent("download"), found.locator("[data-testid=privacy-export]").click()]);
    const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
    assert.equal(exported.visitor.id, visitorId);
    assert.equal(exported.visitor.email, email);
    assert.ok(exported.conversations.flatMap((c) => c.messages.map((m) => m.body)).includes("Please delete my data after this"));

    // Delete: the button stays off until the email is typed.
    await found.locator("[data-testid=privacy-delete]").click();
    const go = admin.locator("[data-testid=privacy-delete-confirm]");
    assert.ok(await go.isDisabled());
    await admin.fill("[data-testid=privacy-confirm]", "jane");
    assert.ok(await go.isDisabled());
    await admin.fill("[data-testid=privacy-confirm]", email);
    await shot(admin, "admin-privacy-delete-confirm");
    await go.click();
    await admin.locator("[data-testid=privacy-note]", { hasText: "is deleted" }).waitFor();
    await shot(admin, "admin-privacy-deleted");
    assert.equal((await call(admin, "GET", `/api/visitors/${visitorId}`)).status, 404);

    // The audit log shows the export and the deletion, by id only.
    await admin.click("[data-testid=dialog-close]");
    await admin.click("[data-testid=open-audit]");
    for (const action of ["visitor_deleted", "visitor_exported", "api_token.revoke", "webhook.replay", "webhook.edit", "retention_changed"]) {
      await admin.locator(`[data-testid=audit-row][data-action='${action}']`).first().waitFor();
    }
    assert.equal(await admin.locator("[data-testid=audit]", { hasText: email }).count(), 0);
    await visitor.ctx.close();
  } finally {
    await rcv.close();
  }
});
