// After the chat ends the visitor rates it in one tap and adds a comment;
// the agent sees both in the conversation. Along the way: a reply that comes
// while the chat is minimized chimes (unless muted, which is remembered),
// links are safe, and the visitor downloads the transcript as a text file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setUp, signInAgent, send, bodies, eventually, online, widget, openChat } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";
const frameOf = (page) => page.frames().find((f) => f.url().includes("/widget/frame"));

test("the visitor rates the ended chat; the agent sees the rating and comment", async () => {
  const s = await e2e.server();
  const agent = await signInAgent(e2e.browser, s.url);
  await online(agent);
  const v = await widget(e2e.browser, s.url);
  await send(v.frame, "Where is my order 1234?");
  await openChat(agent, "Where is my order 1234?");
  await eventually(async () => (await bodies(agent)).includes("Where is my order 1234?"), { what: "the agent sees the visitor" });

  // Links: only http(s)/mailto become links; a javascript: address stays text.
  await send(agent, "Track it at https://example.com/track?id=1234, or write to mailto:help@example.com. Not javascript:alert(1)");
  await eventually(async () => (await v.frame.locator("[data-testid=message-body] a").count()) === 2, { what: "two links" });
  const hrefs = await v.frame.locator("[data-testid=message-body] a").evaluateAll((as) => as.map((a) => [a.getAttribute("href"), a.rel, a.target]));
  assert.deepEqual(hrefs, [
    ["https://example.com/track?id=1234", "noopener noreferrer", "_blank"],
    ["mailto:help@example.com", "noopener noreferrer", "_blank"],
  ]);

  // A reply while the chat is minimized chimes; muted, it does not.
  const chimes = () => frameOf(v.page).evaluate(() => Number(document.body.dataset.chimes || 0));
  const pageTitle = await v.page.title();
  await v.frame.locator("[data-testid=minimize]").click();
  await v.page.locator("#parley-frame").waitFor({ state: "hidden" });
  await send(agent, "It ships today.");
  await eventually(async () => (await chimes()) === 1, { what: "a chime for the reply" });
  // The host page's title flashes until the visitor opens the chat.
  const titles = new Set();
  await eventually(
    async () => {
      titles.add(await v.page.title());
      return titles.has("(1) New message") && titles.has(pageTitle);
    },
    { what: "the title flashing between the alert and the page's title" },
  );
  await v.page.click("#parley-launcher");
  await eventually(async () => (await v.page.title()) === pageTitle, { what: "the page's title back once the visitor looks" });
  await v.frame.locator("[data-testid=mute]").click();
  assert.equal(await v.frame.locator("[data-testid=mute]").getAttribute("aria-pressed"), "true");
  await v.page.keyboard.press("Escape");
  await v.page.locator("#parley-frame").waitFor({ state: "hidden" });
  await send(agent, "Anything else?");
  await eventually(async () => (await bodies(agent)).includes("Anything else?"), { what: "sent" });
  await eventually(async () => (await v.frame.locator("[data-testid=message-body]").allInnerTexts()).includes("Anything else?"), { what: "the muted reply arrives" });
  assert.equal(await chimes(), 1, "no chime when muted");
  assert.equal(await v.page.title(), pageTitle, "no title alert when muted");
  await v.page.reload();
  await v.page.click("#parley-launcher");
  await v.frame.locator("[data-testid=composer]").waitFor();
  assert.equal(await v.frame.locator("[data-testid=mute]").getAttribute("aria-pressed"), "true", "mute is remembered");

  // Transcript download: a text file of the chat.
  const [download] = await Promise.all([v.page.waitForEvent("download"), v.frame.locator("[data-testid=transcript]").click()]);
  assert.equal(download.suggestedFilename(), "chat-transcript.txt");
  const text = readFileSync(await download.path(), "utf8");
  assert.match(text, /You: Where is my order 1234\?/);
  assert.match(text, /Admin: It ships today\./);

  // The agent closes; the visitor rates 4 and comments.
  await agent.locator("[data-testid=close-conversation]").click();
  await v.frame.locator("[data-testid=csat]").waitFor();
  await v.page.screenshot({ path: `${shots}/widget-csat.png` });
  await v.frame.locator("[data-testid=csat-4]").click();
  await v.frame.locator("[data-testid=csat-comment]").fill("Fast and friendly.");
  await v.frame.locator("[data-testid=csat-send]").click();
  await v.frame.locator("[data-testid=csat-thanks]").waitFor();
  const shown = agent.locator("[data-testid=csat]");
  await eventually(async () => (await shown.getAttribute("data-rating")) === "4", { what: "the agent sees the rating" });
  assert.match(await shown.innerText(), /Fast and friendly\./);
  await agent.screenshot({ path: `${shots}/agent-csat.png` });
  // Stored: a reload of the dashboard still shows it.
  await agent.reload();
  await agent.locator("[data-testid=inbox-item]").first().click().catch(() => {});
  await v.ctx.close();
  await agent.context().close();
});
