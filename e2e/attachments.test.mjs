// Attachments through the UIs, as people use them: the visitor attaches
// with the widget's paperclip and the agent with the dashboard's Attach
// (the file inputs behind those buttons), images show inline on both
// sides, files as downloads with name and size; a refused type is said in
// the visitor's language; a file attached while the connection is down
// waits in the queue and arrives once, even when the answer to its first
// upload is lost; and "Seen" shows on both sides.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { deflateSync, crc32 } from "node:zlib";
import { startServer, launchBrowser, signInAgent, openWidget, widget, send, openChat, eventually } from "./harness.mjs";

const shots = process.env.PARLEY_SCREENSHOTS;
const screenshot = async (page, name) => shots && page.screenshot({ path: `${shots}/${name}.png` });

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  server?.cleanup();
});

/** png makes a w×h PNG of soft diagonal stripes (a picture to look at in
 * the screenshots, decodable by any browser). */
function png(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) {
      const band = Math.floor((x + y) / 16) % 2;
      row.set(band ? [56, 132, 255] : [255, 183, 77], 1 + x * 3);
    }
    rows.push(row);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}

const widgetFrame = (page) => page.frames().find((f) => f.url().includes("/widget/frame"));

test("files both ways through the buttons, images inline, read receipts", async () => {
  const agent = await signInAgent(browser, server.url);
  const { page: visitorPage, frame } = await openWidget(browser, server.url);
  await send(frame, "Here is a photo of the damage");
  await openChat(agent, "Here is a photo of the damage");
  await frame.locator("[data-testid=seen]").waitFor({ timeout: 15_000 });

  // The paperclip is a labelled button; its file input is where the
  // chosen file lands. The sender claims text/html: the server sniffs.
  const attach = frame.locator("[data-testid=attach]");
  assert.equal(await attach.getAttribute("aria-label"), "Attach a file");
  await frame.locator("[data-testid=attach-input]").setInputFiles({ name: "damage.png", mimeType: "text/html", buffer: png(320, 200) });

  // The visitor's own image, inline (fetched with the token, a blob: URL
  // the frame's CSP allows), with its name and size as a download.
  const ownImg = frame.locator("[data-testid=attachment-image]");
  await ownImg.waitFor();
  await eventually(async () => (await ownImg.evaluate((el) => el.naturalWidth)) === 320, { what: "the widget decodes the image" });
  assert.match(await frame.locator("[data-testid=attachment-download]").innerText(), /damage\.png · \d+ KB/);
  assert.equal(await frame.locator("[data-testid=upload]").count(), 0, "no pending upload left");

  // The agent sees it inline and downloads it.
  const img = agent.locator("[data-testid=attachment-image]").first();
  await img.waitFor();
  await eventually(async () => (await img.evaluate((el) => el.naturalWidth)) === 320, { what: "agent's image decoded" });
  const [dl] = await Promise.all([agent.waitForEvent("download"), agent.locator("[data-testid=attachment-download]").first().click()]);
  assert.equal(dl.suggestedFilename(), "damage.png");

  // The agent attaches a file with the dashboard's Attach button.
  await agent.locator("[data-testid=attach]").waitFor();
  await screenshot(agent, "attachments-dashboard-composer");
  await agent.locator("[data-testid=attach-input]").setInputFiles({ name: "refund.txt", mimeType: "text/plain", buffer: Buffer.from("Order 1234: refund approved\n") });
  // A pasted screenshot and a file dropped on the conversation are sent too.
  const transfer = (name, type, bytes) =>
    agent.evaluateHandle(([name, type, b64]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type }));
      return dt;
    }, [name, type, Buffer.from(bytes).toString("base64")]);
  const pasted = await transfer("screenshot.png", "image/png", png(40, 30));
  await agent.locator("[data-testid=composer]").evaluate((el, dt) => el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true })), pasted);
  await frame.locator("[data-testid=attachment-image][alt='screenshot.png']").waitFor();
  await agent.locator(".pa-conv").dispatchEvent("drop", { dataTransfer: await transfer("notes.txt", "text/plain", "dropped\n") });
  await frame.locator("[data-testid=attachment-download]", { hasText: "notes.txt" }).waitFor();
  const file = frame.locator("[data-testid=attachment-download]", { hasText: "refund.txt" });
  await file.waitFor();
  assert.equal(await file.getAttribute("aria-label"), "Download refund.txt");
  // The widget fetches it with the visitor's token; the answer is a
  // sandboxed download.
  const id = await agent.locator("[data-testid=attachment]", { hasText: "refund.txt" }).locator("a[download]").getAttribute("href");
  const got = await widgetFrame(visitorPage).evaluate(async (href) => {
    const token = localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(":token")));
    const res = await fetch(href.replace("/api/conversations/", "/api/widget/conversations/"), { headers: { Authorization: "Bearer " + token } });
    return { status: res.status, text: await res.text(), disposition: res.headers.get("content-disposition"), csp: res.headers.get("content-security-policy") };
  }, id);
  assert.equal(got.status, 200);
  assert.equal(got.text, "Order 1234: refund approved\n");
  assert.match(got.disposition, /^attachment;/);
  assert.equal(got.csp, "sandbox; default-src 'none'");

  // The visitor has the agent's file on screen: the agent sees "Seen".
  await agent.locator("[data-testid=seen]").waitFor({ timeout: 15_000 });
  await screenshot(agent, "attachments-agent");
  await screenshot(visitorPage, "attachments-visitor");
});

test("a refused type and a file over the limit are said in the visitor's language", async () => {
  const { page, frame } = await widget(browser, server.url, "fr-FR");
  await frame.locator("[data-testid=composer]").waitFor();
  await send(frame, "Bonjour, voici un fichier");
  await frame.locator("[data-testid=attach]").waitFor();
  assert.equal(await frame.locator("[data-testid=attach]").getAttribute("aria-label"), "Joindre un fichier");

  await frame.locator("[data-testid=attach-input]").setInputFiles({ name: "page.html", mimeType: "text/plain", buffer: Buffer.from("<!doctype html><script>alert(1)</script>") });
  const error = frame.locator("[data-testid=upload-error]");
  await error.waitFor();
  assert.match(await error.innerText(), /Ce type de fichier n’est pas accepté ici\./);
  await screenshot(page, "attachments-refused-fr");
  await error.getByRole("button", { name: "Retirer" }).click();
  await frame.locator("[data-testid=upload]").waitFor({ state: "detached" });

  // Over the site's limit (10 MB by default): said at once, nothing sent.
  await frame.locator("[data-testid=attach-input]").setInputFiles({ name: "big.zip", mimeType: "application/zip", buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
  assert.match(await frame.locator(".pw-composer [role=alert]").innerText(), /trop volumineux.*10 MB/);
  assert.equal(await frame.locator("[data-testid=upload]").count(), 0);
  await page.context().close();
});

test("a file attached while offline is sent after the reconnect, once, even when the first answer is lost", async () => {
  const agent = await signInAgent(browser, server.url);
  const { ctx, page, frame } = await openWidget(browser, server.url);
  await send(frame, "Receipt coming");
  await openChat(agent, "Receipt coming");
  await frame.locator("[data-testid=attach]").waitFor();

  // The network goes: the live connection drops and stays down.
  await ctx.setOffline(true);
  await widgetFrame(page).evaluate(() => window.parleyDebug.drop());
  await frame.locator("[data-testid=conn-state]:not([data-state=online])").waitFor();
  await frame.locator("[data-testid=attach-input]").setInputFiles({ name: "receipt.png", mimeType: "image/png", buffer: png(120, 80) });
  const pending = frame.locator("[data-testid=upload]");
  await pending.waitFor();
  assert.match(await pending.innerText(), /receipt\.png/);
  await screenshot(page, "attachments-waiting-offline");

  // Back online: the first upload reaches the server but its answer is
  // lost; the queue sends it again with the same client id.
  const attempts = [];
  await ctx.route("**/api/widget/conversations/*/attachments", async (route) => {
    attempts.push(route.request().postData()?.match(/name="client_id"\r\n\r\n([^\r]+)/)?.[1]);
    if (attempts.length === 1) {
      await route.fetch(); // stored
      await route.abort("connectionreset"); // the answer never comes
    } else await route.continue();
  });
  await ctx.setOffline(false);
  const delivered = frame.locator("[data-testid=attachment-image]");
  await delivered.waitFor({ timeout: 20_000 });
  await pending.waitFor({ state: "detached" });
  assert.equal(attempts.length, 2, "sent twice on the wire");
  assert.equal(attempts[0], attempts[1], "with the same client id");

  // One file, one message, on both sides.
  await agent.locator("[data-testid=attachment]", { hasText: "receipt.png" }).waitFor();
  assert.equal(await agent.locator("[data-testid=attachment]", { hasText: "receipt.png" }).count(), 1);
  assert.equal(await frame.locator("[data-testid=attachment-download]", { hasText: "receipt.png" }).count(), 1);
  await ctx.close();
});
