// Attachments and read receipts in two real browsers. The widget has no
// attach button yet, so the visitor's upload is made from inside the
// widget's frame with its own token, as the widget would; the rest is the
// UIs: the agent sees the image inline and downloads it, the agent's file
// reaches the visitor as a download, and "Seen" shows on both sides.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, signInAgent, openWidget, send, bodies, eventually } from "./harness.mjs";

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

// A 1×1 PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAFgwJ/lK3Q6wAAAABJRU5ErkJggg==";

test("files both ways, image inline, read receipts on both sides", async () => {
  const agent = await signInAgent(browser, server.url);
  const { page: visitorPage, frame } = await openWidget(browser, server.url);
  await send(frame, "Here is a photo of the damage");
  const item = agent.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(agent)).includes("Here is a photo of the damage"), { what: "agent sees the message" });

  // The visitor's message is seen by the agent, who has it on screen.
  await frame.locator("[data-testid=seen]").waitFor({ timeout: 15_000 });

  const conv = await agent.locator("[data-conversation]").first().getAttribute("data-conversation");
  const widgetFrame = visitorPage.frames().find((f) => f.url().includes("/widget/frame"));
  const up = await widgetFrame.evaluate(async ([b64, conv]) => {
    const key = Object.keys(localStorage).find((k) => k.endsWith(":token"));
    const token = localStorage.getItem(key);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const form = new FormData();
    form.append("client_id", crypto.randomUUID());
    form.append("file", new Blob([bytes], { type: "text/html" }), "damage.png");
    const res = await fetch(`/api/widget/conversations/${conv}/attachments`, { method: "POST", body: form, headers: { Authorization: "Bearer " + token } });
    return { status: res.status, body: await res.json() };
  }, [PNG, conv]);
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal(up.body.attachment.type, "image/png", "the type is sniffed, not the sender's claim");

  // The agent sees it inline (decoded) and can download it.
  const img = agent.locator("[data-testid=attachment-image]").first();
  await img.waitFor();
  await eventually(async () => (await img.evaluate((el) => el.naturalWidth)) === 1, { what: "image decoded inline" });
  const [dl] = await Promise.all([agent.waitForEvent("download"), agent.locator("[data-testid=attachment-download]").first().click()]);
  assert.equal(dl.suggestedFilename(), "damage.png");

  // The agent sends a file; the visitor gets a download.
  const sent = await agent.evaluate(async (conv) => {
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("parley_csrf=")).split("=")[1];
    const form = new FormData();
    form.append("client_id", crypto.randomUUID());
    form.append("file", new Blob(["Order 1234: refund approved\n"]), "refund.txt");
    const res = await fetch(`/api/conversations/${conv}/attachments`, { method: "POST", body: form, headers: { "X-CSRF-Token": decodeURIComponent(csrf) } });
    return { status: res.status, body: await res.json() };
  }, conv);
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const file = frame.locator("[data-testid=attachment-download]", { hasText: "refund.txt" });
  await file.waitFor();
  // The widget's download button fetches it with the visitor's token; the
  // same request, checked here (the browser's save of a frame's blob link
  // is not seen by the test yet).
  const got = await widgetFrame.evaluate(async ([conv, id]) => {
    const token = localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(":token")));
    const res = await fetch(`/api/widget/conversations/${conv}/attachments/${id}?download=1`, { headers: { Authorization: "Bearer " + token } });
    return { status: res.status, text: await res.text(), disposition: res.headers.get("content-disposition"), csp: res.headers.get("content-security-policy") };
  }, [conv, sent.body.attachment.id]);
  assert.equal(got.status, 200);
  assert.equal(got.text, "Order 1234: refund approved\n");
  assert.match(got.disposition, /^attachment;/);
  assert.equal(got.csp, "sandbox; default-src 'none'");

  // The visitor has the agent's file on screen: the agent sees "Seen".
  await agent.locator("[data-testid=seen]").waitFor({ timeout: 15_000 });
  await screenshot(agent, "attachments-agent");
  await screenshot(visitorPage, "attachments-visitor");
});
