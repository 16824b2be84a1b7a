// Sites from the dashboard, as a new admin follows it: create a second site
// in the Sites screen, copy its snippet, paste it into a page on another
// origin, get a chat from that page; change the accent colour and watch the
// open widget change without a reload.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { setUp, send, bodies, eventually, freePort, ADMIN_EMAIL, ADMIN_PASSWORD, openChat } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";

/** hostPage serves, on 127.0.0.2 (another origin than the chat server's
 * 127.0.0.1), a customer's page whose body is whatever html() returns. */
async function hostPage(html) {
  const port = await freePort();
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html><head><title>Shop</title></head><body><h1>The shop</h1>${html()}</body></html>`);
  });
  await new Promise((r) => srv.listen(port, "127.0.0.2", r));
  return { origin: `http://127.0.0.2:${port}`, close: () => new Promise((r) => srv.close(r)) };
}

test("an admin adds a site, installs its snippet on another origin, chats from it, and restyles the open widget", async () => {
  const server = await e2e.server();
  let snippet = "";
  const shop = await hostPage(() => snippet);
  try {
    const ctx = await e2e.browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
    const admin = await ctx.newPage();
    await admin.goto(`${server.url}/app/`);
    await admin.getByLabel("Email").fill(ADMIN_EMAIL);
    await admin.getByLabel("Password").fill(ADMIN_PASSWORD);
    await admin.getByRole("button", { name: "Sign in" }).click();
    await admin.locator("[data-testid=conn-state][data-state=online]").waitFor();

    // Sites → Add a site.
    await admin.getByRole("button", { name: "Sites", exact: true }).click();
    const dialog = admin.getByRole("dialog", { name: "Sites" });
    await dialog.getByRole("listitem", { name: "Demo site" }).waitFor();
    await dialog.getByRole("button", { name: "Add a site" }).click();
    await dialog.getByLabel("Name", { exact: true }).fill("Shop");
    await dialog.getByLabel(/Allowed origins/).fill(shop.origin);
    await dialog.getByLabel("Title").fill("Shop help");
    await dialog.getByLabel("Greeting").fill("Questions about your order? Ask us.");
    await admin.screenshot({ path: `${shots}/sites-new.png` });
    await dialog.getByRole("button", { name: "Create site" }).click();
    const item = dialog.getByRole("listitem", { name: "Shop" });
    await item.waitFor();
    await admin.screenshot({ path: `${shots}/sites-list.png` });

    // Copy the snippet (one click) and paste it into the shop's page.
    await item.getByRole("button", { name: "Copy" }).click();
    await item.getByRole("button", { name: "Copied" }).waitFor();
    snippet = await admin.evaluate(() => navigator.clipboard.readText());
    // The queue stub with the boot call, then the loader tag (README, "JavaScript API").
    assert.match(snippet, /^<script>window\.Parley=window\.Parley\|\|function\(\)\{\(Parley\.q=Parley\.q\|\|\[\]\)\.push\(arguments\)\};Parley\("boot",\{site:"[0-9a-f-]{36}"\}\);<\/script>\n<script src="http:\/\/127\.0\.0\.1:\d+\/widget\.js" data-site="[0-9a-f-]{36}" async><\/script>$/);
    assert.equal(snippet, await item.locator("code").innerText());

    // A visitor on the shop's page chats with the admin.
    const vctx = await e2e.browser.newContext();
    const page = await vctx.newPage();
    await page.goto(shop.origin + "/");
    await page.getByRole("button", { name: "Chat with us" }).click();
    const frame = page.frameLocator("#parley-frame");
    await frame.getByRole("heading", { name: "Shop help" }).waitFor();
    await frame.getByText("Questions about your order? Ask us.").waitFor();
    await send(frame, "Is my parcel on its way?");
    await dialog.getByRole("button", { name: "Close" }).first().click();
    await openChat(admin, "Is my parcel on its way?");
    await eventually(async () => (await bodies(admin)).includes("Is my parcel on its way?"), { what: "the agent sees the shop visitor" });
    await send(admin, "Yes, it arrives tomorrow.");
    await eventually(async () => (await bodies(frame)).includes("Yes, it arrives tomorrow."), { what: "the shop visitor sees the reply" });

    // Change the accent colour: the open widget and its launcher change
    // without a reload.
    const head = frame.locator(".pw-head");
    const launcher = page.locator("#parley-launcher");
    assert.equal(await head.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(37, 99, 235)");
    await page.screenshot({ path: `${shots}/sites-widget-before.png` });
    await admin.getByRole("button", { name: "Sites", exact: true }).click();
    await dialog.getByRole("listitem", { name: "Shop" }).getByRole("button", { name: "Edit" }).click();
    await dialog.getByLabel("Accent colour", { exact: true }).fill("#b91c1c");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByRole("listitem", { name: "Shop" }).waitFor();
    await eventually(async () => (await head.evaluate((el) => getComputedStyle(el).backgroundColor)) === "rgb(185, 28, 28)", { what: "the open widget's new accent" });
    await eventually(async () => (await launcher.evaluate((el) => getComputedStyle(el).backgroundColor)) === "rgb(185, 28, 28)", { what: "the launcher's new accent" });
    assert.ok((await bodies(frame)).includes("Yes, it arrives tomorrow."), "the chat is still there: no reload");
    await page.screenshot({ path: `${shots}/sites-widget-after.png` });
    await vctx.close();
    await ctx.close();
  } finally {
    await shop.close();
  }
});
