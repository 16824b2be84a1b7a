// The admin screens of the knowledge base, the assistant and translation,
// the sites and their proactive messages, in French and in Arabic (right
// to left): their headings and buttons are in the agent's language, the
// translation test says what to check when nothing answers at the
// endpoint's address, and nothing overflows its dialog.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, online, eventually } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

const fr = {
  knowledge: "Base de connaissances, assistant et traduction",
  assistant: "Assistant",
  translation: "Traduction automatique",
  articles: "Articles",
  newArticle: "Nouvel article",
  test: "Tester",
  save: "Enregistrer",
  unreachable: "Échec du test : rien ne répond à cette adresse. Vérifiez l'URL de l'API (hôte et port)",
  addSite: "Ajouter un site",
  routing: "Routage et horaires",
  pages: "Pages et déclencheurs",
  snippet: "Extrait à intégrer",
  copy: "Copier",
  proactive: "Messages proactifs",
  addTrigger: "Ajouter un déclencheur",
  trigger: "Déclencheur 1",
  back: "Retour aux sites",
  look: "Apparence du widget",
  create: "Créer le site",
};
const ar = {
  knowledge: "قاعدة المعرفة والمساعد والترجمة",
  assistant: "المساعد",
  translation: "الترجمة التلقائية",
  articles: "المقالات",
  newArticle: "مقالة جديدة",
  test: "اختبار",
  save: "حفظ",
  unreachable: "فشل الاختبار: لا شيء يستجيب على هذا العنوان.",
  addSite: "إضافة موقع",
  routing: "التوجيه وساعات العمل",
  pages: "الصفحات والمشغّلات",
  snippet: "مقتطف التضمين",
  copy: "نسخ",
  proactive: "الرسائل الاستباقية",
  addTrigger: "إضافة مشغّل",
  trigger: "المشغّل 1",
  back: "العودة إلى المواقع",
  look: "مظهر أداة الدردشة",
  create: "إنشاء الموقع",
};

const text = async (locator) => (await locator.first().innerText()).trim();

/** fits checks that the open dialog scrolls only up and down: nothing in
 * it is wider than the dialog. */
async function fits(page, what) {
  const over = await page.locator("[data-testid=dialog]").last().evaluate((d) => {
    const box = d.getBoundingClientRect();
    return [...d.querySelectorAll("*")]
      .filter((el) => el.getClientRects().length && !el.closest(".pa-table-scroll, code, pre"))
      .map((el) => [el, el.getBoundingClientRect()])
      .filter(([, r]) => r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1))
      .map(([el]) => `${el.tagName}.${el.className} "${(el.textContent || "").slice(0, 40)}"`);
  });
  assert.deepEqual(over, [], `${what}: elements wider than the dialog`);
}

async function checkScreens(page, lang, w) {
  const rtl = lang === "ar";
  // Knowledge, assistant and translation.
  await page.locator("[data-testid=open-knowledge]").click();
  const dialog = page.locator("[data-testid=dialog]");
  assert.equal(await text(dialog.locator("h2")), w.knowledge);
  await page.locator("[data-testid=assistant-settings]").waitFor();
  assert.equal(await text(page.locator("[data-testid=assistant-settings] h3")), w.assistant);
  assert.equal(await text(page.locator("[data-testid=assistant-save]")), w.save);
  const tr = page.locator("[data-testid=translation-settings]");
  assert.equal(await text(tr.locator("h3")), w.translation);
  assert.equal(await text(tr.locator("[data-testid=translation-test]")), w.test);
  assert.equal(await text(page.locator(".pa-kb-articles h3")), w.articles);
  assert.equal(await text(page.locator("[data-testid=article-new]")), w.newArticle);

  // Nothing answers at the endpoint's address: the test says what to check.
  await tr.locator("[data-testid=translation-provider]").selectOption("openai");
  await tr.locator("[data-testid=translation-url]").fill("http://127.0.0.1:1/v1");
  await tr.locator("[data-testid=translation-model]").fill("llama3.2");
  await tr.locator("[data-testid=translation-test]").click();
  const note = tr.locator("[data-testid=translation-note]");
  await note.waitFor();
  await eventually(async () => (await text(note)).startsWith(w.unreachable), { what: `the ${lang} message for an unreachable endpoint (got "${await text(note)}")` });
  assert.equal(await note.getAttribute("role"), "alert");
  await fits(page, `${lang} knowledge`);
  await note.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/i18n-${lang}-translation-test.png` });
  await page.locator(".pa-kb-bar").first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/i18n-${lang}-knowledge.png` });
  await page.locator("[data-testid=dialog-close]").click();

  // Sites: the list, then a site's proactive messages, then its form.
  await page.locator("[data-testid=open-sites]").click();
  const site = page.locator("[data-testid=site]").first();
  await site.waitFor();
  assert.equal(await text(page.locator(".pa-sites-head .pa-btn")), w.addSite);
  assert.equal(await text(site.getByRole("button", { name: w.routing })), w.routing);
  assert.equal(await text(site.locator(".pa-snippet > span").first()), w.snippet);
  assert.equal(await text(site.locator("[data-testid=copy-snippet]")), w.copy);
  // Mirrored in Arabic: the site's actions sit at its left end.
  const name = await site.locator("strong").boundingBox();
  const actions = await site.locator(".pa-site-actions").boundingBox();
  assert.ok(rtl ? actions.x < name.x : actions.x > name.x, `${lang}: the site's actions are on the ${rtl ? "left" : "right"} of its name`);
  await fits(page, `${lang} sites`);
  await page.screenshot({ path: `${shots}/i18n-${lang}-sites.png` });

  await site.getByRole("button", { name: w.pages }).click();
  assert.equal(await text(page.locator(".pa-triggers legend")), w.proactive);
  await page.getByRole("button", { name: w.addTrigger }).click();
  assert.equal(await page.locator(".pa-trigger").first().getAttribute("aria-label"), w.trigger);
  await fits(page, `${lang} proactive`);
  await page.screenshot({ path: `${shots}/i18n-${lang}-proactive.png` });
  await page.getByRole("button", { name: w.back }).click();

  await page.locator("[data-testid=site]").first().waitFor();
  await page.locator(".pa-sites-head .pa-btn").click();
  assert.equal(await text(page.locator(".pa-site-form legend")), w.look);
  assert.equal(await text(page.locator(".pa-site-form [type=submit]")), w.create);
  await fits(page, `${lang} site form`);
  await page.screenshot({ path: `${shots}/i18n-${lang}-site-form.png` });
  await page.locator("[data-testid=dialog-close]").click();
}

test("the knowledge, translation, sites and proactive screens in French and in Arabic", async () => {
  const s = await e2e.server();
  const page = await signInAgent(e2e.browser, s.url, undefined, undefined, "fr-FR");
  await page.setViewportSize({ width: 1280, height: 900 });
  await online(page);
  await checkScreens(page, "fr", fr);

  await page.locator("[data-testid=language]").selectOption("ar");
  await eventually(async () => (await page.locator("html").getAttribute("dir")) === "rtl", { what: "dir=rtl" });
  await checkScreens(page, "ar", ar);
});
