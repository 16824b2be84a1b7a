// The admin screens in the agent's language: Agents, Email, API tokens,
// Webhooks (with the delivery log and the edit form) and Data & privacy, opened in a German
// and in an Arabic browser. Each shows its own translated words (labels,
// buttons, empty lines, a confirmation typed or asked, plural counts);
// Arabic is right to left, the tables mirrored; no text is cut off and
// nothing sticks out of the dialog (German words are long). Screenshots
// of every screen in both languages with PARLEY_SCREENSHOTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { setUp, signInAgent, openWidget, send, eventually, call, ADMIN_EMAIL, ADMIN_PASSWORD } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS;
async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, name + ".png") });
}

// The words each language must show; one per screen part.
const words = {
  de: {
    agentsHead: "Fähigkeiten",
    invite: "Einladungslink erstellen",
    pendingNone: "Keine offenen Einladungen.",
    disableBob: "Bob deaktivieren",
    disableQ: "Bob wird überall abgemeldet",
    smtp: "SMTP-Server",
    nothingSent: "Noch nichts gesendet.",
    fromAddress: "Absenderadresse",
    tokensNone: "Noch keine Tokens.",
    tokenName: "CRM-Abgleich",
    shownOnce: "Kopieren Sie das Token „CRM-Abgleich“ jetzt: Es wird nur dieses eine Mal angezeigt.",
    readWrite: "Lesen und Schreiben",
    never: "Nie",
    event: "Unterhaltung begonnen",
    logButton: "Zustellprotokoll",
    noDeliveries: "Noch nichts zugestellt. Senden Sie ein Testereignis, um die URL zu prüfen.",
    editTitle: "Webhook bearbeiten",
    retention: "Aufbewahrung",
    noMatch: "Kein Besucher hat diese E-Mail-Adresse.",
    deleteTitle: "Besucher löschen?",
    typeToConfirm: "Geben Sie zur Bestätigung jane@example.com ein",
    deleted: /^Jane ist gelöscht: 1 Unterhaltung, \d+ Nachrichten?.*Das Audit-Protokoll hält es fest\.$/,
  },
  ar: {
    agentsHead: "المهارات",
    invite: "إنشاء رابط دعوة",
    pendingNone: "لا توجد دعوات معلّقة.",
    disableBob: "تعطيل Bob",
    disableQ: "سيُسجَّل خروج Bob من كل الأجهزة",
    smtp: "خادم SMTP",
    nothingSent: "لم يُرسَل شيء بعد.",
    fromAddress: "عنوان المرسِل",
    tokensNone: "لا توجد رموز بعد.",
    tokenName: "مزامنة CRM",
    shownOnce: "انسخ الرمز «مزامنة CRM» الآن: لن يُعرض إلا هذه المرة.",
    readWrite: "قراءة وكتابة",
    never: "أبدًا",
    event: "بدأت محادثة",
    logButton: "سجل التوصيل",
    noDeliveries: "لم يُوصَّل شيء بعد. أرسل حدثًا تجريبيًا لتجربة العنوان.",
    editTitle: "تعديل الـWebhook",
    retention: "مدة الاحتفاظ",
    noMatch: "لا يوجد زائر بهذا البريد الإلكتروني.",
    deleteTitle: "حذف الزائر؟",
    typeToConfirm: "اكتب jane@example.com للتأكيد",
    deleted: /^حُذف Jane: محادثة واحدة، .*ويسجّل سجل التدقيق ذلك\.$/,
  },
};

/** fits checks, in the open dialog, that no text is cut off (an element
 * narrower than its text) and nothing sticks out of the dialog sideways;
 * tables scroll sideways by design (.pa-table-scroll), the rest must not. */
async function fits(page, what) {
  const bad = await page.locator("[data-testid=dialog]").last().evaluate((box) => {
    const out = [];
    const b = box.getBoundingClientRect();
    for (const el of box.querySelectorAll("button, label, legend, h2, h3, th, a.pa-btn-outline, option, .pa-chip, select")) {
      if (el.closest(".pa-table-scroll") && !el.matches("button, th")) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0) continue;
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible") out.push(`cut: ${el.tagName} “${el.textContent.trim().slice(0, 40)}”`);
      if (!el.closest(".pa-table-scroll") && (r.left < b.left - 1 || r.right > b.right + 1)) out.push(`outside: ${el.tagName} “${el.textContent.trim().slice(0, 40)}”`);
    }
    if (box.scrollWidth > box.clientWidth + 1) out.push(`the dialog scrolls sideways (${box.scrollWidth} > ${box.clientWidth})`);
    return out;
  });
  assert.deepEqual(bad, [], what);
}

/** mirrored checks that in Arabic a table's first column is on the right. */
async function mirrored(page, table) {
  const ths = page.locator(`${table} thead th`);
  const first = await ths.first().boundingBox();
  const last = await ths.nth((await ths.count()) - 2).boundingBox();
  assert.ok(first.x > last.x, `${table}: the first column is right of the others (${first.x} > ${last.x})`);
}

async function closeDialog(page) {
  await page.locator("[data-testid=dialog-close]").last().click();
  await page.locator("[data-testid=dialog]").waitFor({ state: "detached" });
}

for (const [lang, locale] of [
  ["de", "de-DE"],
  ["ar", "ar"],
]) {
  test(`the admin screens in ${lang === "de" ? "German" : "Arabic"}`, async () => {
    const w = words[lang];
    const server = await e2e.server();
    const admin = await signInAgent(e2e.browser, server.url, ADMIN_EMAIL, ADMIN_PASSWORD, locale);
    await eventually(async () => (await admin.locator("html").getAttribute("lang")) === locale, { what: `lang=${locale}` });
    assert.equal(await admin.locator("html").getAttribute("dir"), lang === "ar" ? "rtl" : "ltr");

    // Something to show: a second agent, a visitor with an email, then a
    // webhook (made after the conversation: its delivery log is empty).
    const bob = await call(admin, "POST", "/api/agents", { name: "Bob", email: "bob@example.com", password: "bob-password-long", role: "agent" });
    assert.equal(bob.status, 201);
    const visitor = await openWidget(e2e.browser, server.url);
    await send(visitor.frame, "Bitte löschen Sie meine Daten");
    let conv;
    await eventually(async () => (conv = (await call(admin, "GET", "/api/conversations")).json.conversations[0]), { what: "the visitor's conversation" });
    assert.equal((await call(admin, "PATCH", `/api/visitors/${conv.visitor_id}`, { name: "Jane", email: "jane@example.com" })).status, 200);
    const hook = await call(admin, "POST", "/api/webhooks", { url: "https://hooks.example.com/parley", events: ["conversation.started"] });
    assert.equal(hook.status, 201);

    // Agents: the table, a typed-in role's confirmation, the invite form.
    await admin.click("[data-testid=open-agents]");
    const agents = admin.locator("[data-testid=agents]");
    await agents.locator("th", { hasText: w.agentsHead }).waitFor();
    await admin.getByRole("button", { name: w.invite }).waitFor();
    await admin.getByText(w.pendingNone).waitFor();
    if (lang === "ar") await mirrored(admin, "[data-testid=agents]");
    await fits(admin, "agents");
    await shot(admin, `admin-${lang}-agents`);
    await admin.getByRole("button", { name: w.disableBob }).click();
    const ask = admin.getByRole("dialog", { name: w.disableBob + (lang === "ar" ? "؟" : "?") });
    await ask.getByText(w.disableQ).waitFor();
    await shot(admin, `admin-${lang}-agents-confirm`);
    await ask.getByRole("button", { name: w.disableBob }).click();
    const bobRow = admin.locator(`[data-testid=agent-row][data-agent='${bob.json.agent.id}']`);
    await eventually(async () => (await bobRow.getAttribute("data-disabled")) === "true", { what: "Bob disabled" });
    assert.equal((await bobRow.locator("[data-testid=agent-status]").innerText()).trim(), lang === "de" ? "deaktiviert" : "معطّل");
    await closeDialog(admin);

    // Email.
    await admin.click("[data-testid=open-email]");
    await admin.locator("legend", { hasText: w.smtp }).waitFor();
    await admin.getByText(w.nothingSent).waitFor();
    await admin.getByLabel(w.fromAddress).waitFor();
    await fits(admin, "email");
    await shot(admin, `admin-${lang}-email`);
    await closeDialog(admin);

    // API tokens: empty, then one made, shown once.
    await admin.click("[data-testid=open-tokens]");
    const tokens = admin.locator("[data-testid=tokens-admin]");
    await tokens.getByText(w.tokensNone).waitFor();
    await admin.fill("[data-testid=token-name]", w.tokenName);
    await admin.selectOption("[data-testid=token-scope]", "write");
    await admin.click("[data-testid=token-create]");
    assert.equal((await tokens.locator("[data-testid=shown-once] strong").innerText()).trim(), w.shownOnce);
    const row = tokens.locator("[data-testid=token-row]");
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(w.readWrite));
    assert.equal((await row.locator("[data-testid=token-used]").innerText()).trim(), w.never);
    if (lang === "ar") await mirrored(admin, "[data-testid=tokens]");
    await fits(admin, "tokens");
    await shot(admin, `admin-${lang}-tokens`);
    await closeDialog(admin);

    // Webhooks: the event's description next to its identifier, the log.
    await admin.click("[data-testid=open-webhooks]");
    const hooks = admin.locator("[data-testid=webhooks-admin]");
    await hooks.locator("[data-testid=webhook-row] .pa-chip", { hasText: w.event }).waitFor();
    assert.match(await hooks.locator("label", { has: admin.locator("[data-testid='webhook-event-conversation.started']") }).innerText(), new RegExp(`${w.event}\\s*conversation\\.started`));
    await hooks.locator("[data-testid=webhook-log]").click();
    assert.equal((await hooks.locator("[data-testid=webhook-log]").innerText()).trim(), w.logButton);
    await hooks.getByText(w.noDeliveries).waitFor();
    if (lang === "ar") await mirrored(admin, "[data-testid=webhooks]");
    await fits(admin, "webhooks");
    await shot(admin, `admin-${lang}-webhooks`);
    await hooks.locator("[data-testid=webhook-edit]").click();
    await hooks.locator("[data-testid=webhook-form] h3", { hasText: w.editTitle }).waitFor();
    assert.equal(await admin.locator("[data-testid=webhook-url]").inputValue(), "https://hooks.example.com/parley");
    await fits(admin, "the webhook's edit form");
    await shot(admin, `admin-${lang}-webhooks-edit`);
    await closeDialog(admin);

    // Data & privacy: no match, then the visitor, deleted after typing the email.
    await admin.click("[data-testid=open-privacy]");
    await admin.locator("h3", { hasText: w.retention }).waitFor();
    await admin.fill("[data-testid=privacy-email]", "nobody@example.com");
    await admin.click("[data-testid=privacy-find]");
    await admin.getByText(w.noMatch).waitFor();
    await admin.fill("[data-testid=privacy-email]", "jane@example.com");
    await admin.click("[data-testid=privacy-find]");
    await admin.locator("[data-testid=privacy-visitor]").waitFor();
    await fits(admin, "privacy");
    await shot(admin, `admin-${lang}-privacy`);
    await admin.click("[data-testid=privacy-delete]");
    const confirm = admin.getByRole("dialog", { name: w.deleteTitle });
    assert.equal((await confirm.locator("label span").first().innerText()).trim(), w.typeToConfirm);
    await admin.fill("[data-testid=privacy-confirm]", "jane@example.com");
    await fits(admin, "the deletion's confirmation");
    await shot(admin, `admin-${lang}-privacy-confirm`);
    await admin.click("[data-testid=privacy-delete-confirm]");
    const note = admin.locator("[data-testid=privacy-note]");
    await note.waitFor();
    assert.match((await note.innerText()).trim(), w.deleted);
    await shot(admin, `admin-${lang}-privacy-deleted`);
    await visitor.ctx.close();
  });
}
