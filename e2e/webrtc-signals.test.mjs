// Typing over the relay's unordered "signals" data channel, in real
// headless Chromium against the real binary: while a client's data
// channels are open, typing indicators travel on "signals" (never
// retransmitted: a lost one is superseded by the next) and messages stay on
// the ordered, reliable "chat" channel.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, send, bodies, eventually } from "./harness.mjs";
import { metric, dcSends, transportOf, widgetFrame, chatting } from "./webrtc-helpers.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("typing travels on the signals channel both ways, messages on the chat channel", async () => {
  const server = await startServer({ env: { PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true" } });
  try {
    const { agent, visitor } = await chatting(browser, server);
    const frame = widgetFrame(visitor.page);
    await eventually(async () => (await transportOf(visitor.frame)) === "datachannel", { what: "visitor on the data channel" });
    await eventually(async () => (await transportOf(agent)) === "datachannel", { what: "agent on the data channel" });

    // The visitor types: the agent sees it, through the signals channel.
    await visitor.frame.locator("[data-testid=composer]").pressSequentially("typing over signals");
    await agent.locator("[data-testid=typing]").waitFor();
    const v = await frame.evaluate(() => window.parleyDebug.signals);
    assert.ok(v.sent >= 1, `visitor sent typing on signals: ${JSON.stringify(v)}`);
    await eventually(async () => (await agent.evaluate(() => window.parleyDebug.signals)).received >= 1, { what: "agent got typing on signals" });
    assert.ok((await metric(server.url, `parley_rtc_signal_frames_total{direction="in"}`)) >= 1, "server took typing from signals");
    assert.ok((await metric(server.url, `parley_rtc_signal_frames_total{direction="out"}`)) >= 1, "server sent typing on signals");

    // The agent types back.
    await agent.locator("[data-testid=composer]").pressSequentially("typing back");
    await visitor.frame.locator("[data-testid=typing]").waitFor();
    assert.ok((await agent.evaluate(() => window.parleyDebug.signals)).sent >= 1, "agent sent typing on signals");
    await eventually(async () => (await frame.evaluate(() => window.parleyDebug.signals)).received >= 1, { what: "visitor got typing on signals" });

    // The message itself goes on the chat channel, and stops the typing.
    const dc = await metric(server.url, dcSends);
    await visitor.frame.locator("[data-testid=send]").click();
    await eventually(async () => (await bodies(agent)).includes("typing over signals"), { what: "agent sees the message" });
    assert.equal(await metric(server.url, dcSends), dc + 1, "the send came on the chat channel");
    await agent.locator("[data-testid=typing]").waitFor({ state: "detached" });
  } finally {
    await server.stop();
    server.cleanup();
  }
});
