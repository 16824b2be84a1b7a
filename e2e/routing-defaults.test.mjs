// A new install routes on its defaults (issue 20, defect 1): an agent who
// lists no languages takes visitors of every language, even when another
// agent lists French, and the site's relaxation steps are stored values the
// routing settings show, not placeholder text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setUp, signInAgent, send, eventually, newAgent, online, widget } from "./harness.mjs";

const e2e = setUp();

test("an agent without languages serves English and French visitors while the French agent is away", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url); // lists no languages
  await online(admin);
  const fleur = await newAgent(e2e.browser, admin, s.url, "Fleur", { languages: ["fr"] });
  await fleur.page.getByLabel("Status").selectOption("away");
  await fleur.page.locator("[data-testid=conn-state][data-state=online]").waitFor();

  for (const [locale, text] of [["en-US", "Hello, where is my order please?"], ["fr-FR", "Bonjour, où est ma commande ?"]]) {
    const v = await widget(e2e.browser, s.url, locale);
    await v.frame.locator("[data-testid=composer]").waitFor();
    await send(v.frame, text);
    await eventually(async () => (await v.frame.locator("[data-testid=agent-name]").innerText()) === "Admin", { what: `${locale} visitor served by the admin` });
    assert.equal(await v.frame.getByText("Nobody is available").count(), 0, `${locale} visitor was not sent to the offline form`);
    await v.ctx.close();
  }
});

test("the routing settings show the new site's relaxation steps as values", async () => {
  const s = await e2e.server();
  const admin = await signInAgent(e2e.browser, s.url);
  await admin.getByRole("button", { name: "Routing settings" }).click();
  const relax = admin.getByLabel(/Relax after/);
  await eventually(async () => (await relax.inputValue()) === "60, 120, 300", { what: "the relaxation steps in the field" });
  await admin.screenshot({ path: "/tmp/routing-defaults-settings.png" });
  // Emptied and saved, the site never relaxes, and the field says so.
  await relax.fill("");
  await admin.getByRole("button", { name: "Save" }).click();
  await admin.getByText("Saved").waitFor();
  assert.equal(await relax.inputValue(), "");
  assert.equal(await relax.getAttribute("placeholder"), "Empty: never relax");
});
