// ICE restart in real headless Chromium against the real binary: when a
// connection that worked goes disconnected while the WebSocket lives, the
// browser moves chat to the WebSocket and asks the relay for an ICE-restart
// offer; the relay offers on the same peer (new ICE credentials, same DTLS,
// SCTP and data channels), the browser answers, and chat returns to the
// same data channel. Messages sent meanwhile, by both sides, arrive exactly
// once and in order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, send, bodies, eventually } from "./harness.mjs";
import { metric, dcSends, transportOf, widgetFrame, chatting, assertExactlyOnce } from "./webrtc-helpers.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const restartsByClient = `parley_rtc_ice_restarts_total{by="client"}`;
const peersMade = "parley_rtc_peers_total";
const visitorsOnChannel = `parley_connections{kind="visitor",transport="datachannel"}`;

test("ICE restart: chat goes on over the WebSocket meanwhile, then back on the same data channel, nothing lost or doubled", async () => {
  const server = await startServer({ env: { PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true" } });
  try {
    const { agent, visitor } = await chatting(browser, server);
    const frame = widgetFrame(visitor.page);
    await eventually(async () => (await transportOf(visitor.frame)) === "datachannel", { what: "visitor on the data channel" });
    await eventually(async () => (await transportOf(agent)) === "datachannel", { what: "agent on the data channel" });
    const peers = await metric(server.url, peersMade);

    // The visitor's connection takes the disconnected path while both
    // sides write.
    const fromVisitor = ["restart visitor 1", "restart visitor 2", "restart visitor 3"];
    const fromAgent = ["restart agent 1", "restart agent 2", "restart agent 3"];
    await visitor.frame.locator("[data-testid=composer]").fill(fromVisitor[0]);
    await Promise.all([
      visitor.frame.locator("[data-testid=send]").click(),
      frame.evaluate(() => window.parleyDebug.restartIce()),
    ]);
    for (let i = 0; i < 3; i++) {
      if (i > 0) await send(visitor.frame, fromVisitor[i]);
      await send(agent, fromAgent[i]);
    }
    await eventually(async () => (await bodies(agent)).filter((b) => fromVisitor.includes(b)).length >= 3, { what: "agent sees the visitor's" });
    await eventually(async () => (await bodies(visitor.frame)).filter((b) => fromAgent.includes(b)).length >= 3, { what: "visitor sees the agent's" });
    await eventually(async () => (await visitor.frame.locator("[data-testid=message][data-pending=true]").count()) === 0, { what: "visitor's acked" });

    // The same peer came back through the restart: no new peer was made.
    await eventually(async () => (await transportOf(visitor.frame)) === "datachannel", { timeout: 20_000, what: "visitor back on the data channel" });
    await eventually(async () => (await metric(server.url, visitorsOnChannel)) === 1, { what: "server sees the visitor back on the channel" });
    assert.equal(await frame.evaluate(() => window.parleyDebug.iceRestarts), 1);
    assert.equal(await metric(server.url, restartsByClient), 1, "the relay offered one ICE restart");
    assert.equal(await metric(server.url, peersMade), peers, "no new peer: the restart kept the connection");

    // Chat flows over the restored channel, exactly once.
    const dc = await metric(server.url, dcSends);
    await send(visitor.frame, "after the restart");
    await eventually(async () => (await bodies(agent)).includes("after the restart"), { what: "agent sees the message after the restart" });
    assert.equal(await metric(server.url, dcSends), dc + 1, "the send after the restart came over the data channel");
    await send(agent, "agent after the restart");
    await eventually(async () => (await bodies(visitor.frame)).includes("agent after the restart"), { what: "visitor sees the agent after the restart" });
    await assertExactlyOnce(agent, [...fromVisitor, "after the restart"], "agent");
    await assertExactlyOnce(visitor.frame, [...fromAgent, "agent after the restart"], "visitor");
  } finally {
    await server.stop();
    server.cleanup();
  }
});
