// The admin screens in the agent's language (issue 17 item 7): Reports
// (charts' titles and legends, the period and time-zone pickers, the CSV
// button), Contacts (list, a contact's page, the delete dialog), the
// two-factor dialog, routing settings and the audit log, first in Spanish from the browser,
// then in Arabic chosen in the sidebar, right to left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, openWidget, send, eventually, online, openChat, call } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

const text = async (page, sel) => (await page.locator(sel).first().innerText()).trim();

/** screens walks the four screens, checks each one's words, and takes
 * their screenshots. */
async function screens(agent, lang, w) {
  // Reports.
  await agent.locator("[data-testid=open-reports]").click();
  const reports = agent.locator("[data-testid=reports]");
  await reports.locator("[data-testid=kpi-conversations]").waitFor();
  await eventually(async () => (await reports.getAttribute("data-loading")) === "false", { what: "the report loaded" });
  assert.equal(await text(agent, ".pa-rep-head h1"), w.reports);
  assert.equal(await text(agent, "[data-testid=report-csv]"), w.csv);
  assert.equal(await text(agent, "[data-testid=report-period] option:checked"), w.last30);
  assert.ok((await text(agent, ".pa-rep-filters")).includes(w.timeZone), "the time-zone picker's label");
  assert.equal(await text(agent, "[data-testid=kpi-conversations] .pa-rep-kpi-label"), w.conversations);
  assert.equal(await text(agent, "[data-testid=kpi-conversations] .pa-rep-kpi-value"), w.one);
  const titles = await reports.locator(".pa-rep-card h2").allInnerTexts();
  assert.ok(titles.includes(w.perDay), `chart titles ${titles}`);
  assert.ok((await text(agent, "[data-testid=chart-days] .u-legend")).includes(w.missed), "the day chart's legend");
  await agent.screenshot({ path: `${shots}/i18n-${lang}-reports.png` });
  await reports.locator(".pa-rep-charts").screenshot({ path: `${shots}/i18n-${lang}-reports-charts.png` });
  await reports.locator("[data-testid=report-agents]").screenshot({ path: `${shots}/i18n-${lang}-reports-table.png` });
  await agent.locator("[data-testid=reports-close]").click();

  // Contacts: the list, the contact, the delete dialog.
  await agent.locator("[data-testid=open-contacts]").click();
  const row = agent.locator("[data-testid=contact-row]").first();
  await row.waitFor();
  assert.equal(await text(agent, "[data-testid=contact-status]"), w.leadNew);
  assert.ok((await text(agent, "[data-testid=contacts-list] thead")).includes(w.email));
  await agent.screenshot({ path: `${shots}/i18n-${lang}-contacts.png` });
  await row.locator("[data-testid=contact-open]").click();
  const page = agent.locator("[data-testid=contact-page]");
  await page.waitFor();
  assert.ok((await page.innerText()).includes(w.saveNotes));
  await page.locator("[data-testid=contact-delete]").click();
  const ask = agent.locator("[data-testid=contact-delete-dialog]");
  await ask.waitFor();
  assert.ok((await ask.innerText()).includes(w.kept), "the delete dialog says what is kept");
  await agent.screenshot({ path: `${shots}/i18n-${lang}-contact-delete.png` });
  await agent.keyboard.press("Escape");
  await ask.waitFor({ state: "detached" });
  await agent.locator("[data-testid=close-contacts]").click();

  // Two-factor sign-in and the audit log.
  await agent.locator("[data-testid=open-two-factor]").click();
  const dialog = agent.locator("[data-testid=dialog]");
  await dialog.getByText(w.setUp).waitFor();
  await agent.screenshot({ path: `${shots}/i18n-${lang}-twofactor.png` });
  await agent.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  // Routing settings.
  await agent.locator("[data-testid=open-settings]").click();
  const settings = agent.locator("[data-testid=routing-settings]");
  await settings.waitFor();
  assert.equal(await text(agent, "[data-testid=routing-mode] option:checked"), w.auto);
  assert.ok((await settings.innerText()).includes(w.monday), "the business hours' days");
  await agent.screenshot({ path: `${shots}/i18n-${lang}-routing-settings.png` });
  await agent.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await agent.locator("[data-testid=open-audit]").click();
  await agent.locator("[data-testid=audit-row]").first().waitFor();
  assert.equal(await text(agent, "[data-testid=audit] th"), w.when);
  await agent.screenshot({ path: `${shots}/i18n-${lang}-audit.png` });
  await agent.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
}

test("Reports, Contacts, two-factor, routing settings and the audit log in Spanish, then in Arabic right to left", async () => {
  const s = await e2e.server();
  const agent = await signInAgent(e2e.browser, s.url, undefined, undefined, "es-ES");
  await online(agent);

  // One answered conversation, its visitor a contact.
  const { frame } = await openWidget(e2e.browser, s.url);
  await send(frame, "Hola, ¿envían a Sevilla?");
  await openChat(agent, "Sevilla");
  await send(agent, "Sí, en dos días.");
  const conv = (await call(agent, "GET", "/api/conversations")).json.conversations[0];
  assert.equal((await call(agent, "PATCH", `/api/visitors/${conv.visitor_id}`, { name: "Ana Ruiz", email: "ana@example.com" })).status, 200);

  await screens(agent, "es", {
    reports: "Informes",
    csv: "Descargar CSV",
    last30: "Últimos 30 días",
    timeZone: "Zona horaria",
    conversations: "Conversaciones",
    one: "1",
    perDay: "Conversaciones por día",
    missed: "Perdidas",
    leadNew: "Nuevo",
    email: "Correo electrónico",
    saveNotes: "Guardar notas",
    kept: "Sus visitantes y conversaciones se conservan",
    setUp: "Configurar el inicio de sesión en dos pasos",
    when: "Cuándo",
    auto: "Asignación automática",
    monday: "lunes",
  });

  await agent.locator("[data-testid=language]").selectOption("ar");
  await eventually(async () => (await agent.locator("html").getAttribute("dir")) === "rtl", { what: "dir=rtl" });
  // Numbers are written the browser's Arabic way (Latin or Arabic-Indic digits).
  const [n30, n1] = await agent.evaluate(() => [(30).toLocaleString("ar"), (1).toLocaleString("ar")]);
  await screens(agent, "ar", {
    reports: "التقارير",
    csv: "تنزيل CSV",
    last30: `آخر ${n30} يومًا`,
    timeZone: "المنطقة الزمنية",
    conversations: "المحادثات",
    one: n1,
    perDay: "المحادثات في اليوم",
    missed: "الفائتة",
    leadNew: "جديد",
    email: "البريد الإلكتروني",
    saveNotes: "حفظ الملاحظات",
    kept: "أما زوّارها ومحادثاتها فتبقى محفوظة",
    setUp: "إعداد تسجيل الدخول بخطوتين",
    when: "متى",
    auto: "إسناد تلقائي",
    monday: "الاثنين",
  });
  // Right to left: the reports' filters start on the right.
  await agent.locator("[data-testid=open-reports]").click();
  const first = await agent.locator(".pa-rep-filters label").first().boundingBox();
  const last = await agent.locator(".pa-rep-filters label").last().boundingBox();
  assert.ok(first.x > last.x, `the first filter right of the last: ${first.x} ${last.x}`);
});
