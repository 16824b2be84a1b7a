// Chat over WebRTC data channels, in real headless Chromium against the real
// binary and its in-process Pion relay (loopback only): both sides end up on
// the data channel and the server's metrics prove the sends came over it;
// when WebRTC cannot connect chat stays on the WebSocket; when the channel
// dies mid-chat, messages continue over the WebSocket exactly once, in
// order, and the client returns to the data channel.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, send, bodies, eventually } from "./harness.mjs";
import { metric, dcSends, transportOf, widgetFrame, chatting as chattingIn, assertExactlyOnce, exchange } from "./webrtc-helpers.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const chatting = (server) => chattingIn(browser, server);

/** Starts a server for one test; loopback candidates on. */
async function rtcServer(env = {}) {
  return startServer({ env: { PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true", PARLEY_LOG_LEVEL: "debug", ...env } });
}

test("visitor and agent chat over data channels (client state and server metrics agree)", async () => {
  // The defaults, as `go run ./signaling` has them: the public URL is on
  // loopback, so PARLEY_RTC_LOOPBACK=auto offers 127.0.0.1.
  const server = await startServer();
  try {
    const { agent, visitor } = await chatting(server);
    await eventually(async () => (await transportOf(visitor.frame)) === "datachannel", { what: "visitor on the data channel" });
    await eventually(async () => (await transportOf(agent)) === "datachannel", { what: "agent on the data channel" });
    assert.equal(await widgetFrame(visitor.page).evaluate(() => window.parleyDebug.transport), "datachannel");
    assert.equal(await agent.evaluate(() => window.parleyDebug.transport), "datachannel");

    // The server handled these sends from data channels, none from WebSockets.
    const sends = await exchange(server, visitor, agent, ["dc visitor 1", "dc visitor 2", "dc visitor 3"], ["dc agent 1", "dc agent 2"]);
    assert.equal(sends.dc, sends.sent, "sends received over data channels");
    assert.equal(sends.ws, 0, "no send over a WebSocket");
    assert.equal(await metric(server.url, `parley_connections{kind="visitor",transport="datachannel"}`), 1);
    assert.equal(await metric(server.url, `parley_connections{kind="agent",transport="datachannel"}`), 1);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test("WebRTC cannot connect: chat works over the WebSocket, nothing lost", async () => {
  // The relay may only offer 127.0.0.2, an address it does not have: no
  // candidate at all, so ICE can never connect.
  const server = await rtcServer({ PARLEY_RTC_ALLOWED_IPS: "127.0.0.2" });
  try {
    const { agent, visitor } = await chatting(server);
    const fromVisitor = ["ws visitor 1", "ws visitor 2"];
    const fromAgent = ["ws agent 1", "ws agent 2"];
    for (const m of fromVisitor) await send(visitor.frame, m);
    for (const m of fromAgent) await send(agent, m);
    await eventually(async () => (await bodies(agent)).filter((b) => fromVisitor.includes(b)).length === 2, { what: "agent sees the visitor's" });
    await eventually(async () => (await bodies(visitor.frame)).filter((b) => fromAgent.includes(b)).length === 2, { what: "visitor sees the agent's" });
    await assertExactlyOnce(agent, fromVisitor, "agent");
    await assertExactlyOnce(visitor.frame, fromAgent, "visitor");
    assert.equal(await transportOf(visitor.frame), "websocket");
    assert.equal(await transportOf(agent), "websocket");

    // The client gives up within its timeout (5 s) and tells why.
    const frame = widgetFrame(visitor.page);
    await eventually(async () => (await frame.evaluate(() => window.parleyDebug.rtcStop)) !== "", { timeout: 15_000, what: "visitor gave WebRTC up" });
    // Chat still flows after the give-up.
    await send(visitor.frame, "after give-up");
    await eventually(async () => (await bodies(agent)).includes("after give-up"), { what: "agent sees the message after give-up" });
    assert.equal(await metric(server.url, dcSends), 0, "nothing came over a data channel");
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test("data channel dies mid-chat: messages continue over the WebSocket exactly once, then back on the data channel", async () => {
  const server = await rtcServer();
  try {
    const { agent, visitor } = await chatting(server);
    const frame = widgetFrame(visitor.page);
    await eventually(async () => (await transportOf(visitor.frame)) === "datachannel", { what: "visitor on the data channel" });
    await eventually(async () => (await transportOf(agent)) === "datachannel", { what: "agent on the data channel" });

    // Break the visitor's channel while both sides are writing.
    const fromVisitor = ["during break 1", "during break 2", "during break 3"];
    const fromAgent = ["agent during break 1", "agent during break 2", "agent during break 3"];
    await visitor.frame.locator("[data-testid=composer]").fill(fromVisitor[0]);
    await Promise.all([
      visitor.frame.locator("[data-testid=send]").click(),
      frame.evaluate(() => window.parleyDebug.dropDataChannel()),
    ]);
    for (let i = 0; i < 3; i++) {
      if (i > 0) await send(visitor.frame, fromVisitor[i]);
      await send(agent, fromAgent[i]);
    }
    await eventually(async () => (await bodies(agent)).filter((b) => fromVisitor.includes(b)).length >= 3, { what: "agent sees the visitor's" });
    await eventually(async () => (await bodies(visitor.frame)).filter((b) => fromAgent.includes(b)).length >= 3, { what: "visitor sees the agent's" });
    await eventually(async () => (await visitor.frame.locator("[data-testid=message][data-pending=true]").count()) === 0, { what: "visitor's acked" });
    await assertExactlyOnce(agent, fromVisitor, "agent");
    await assertExactlyOnce(visitor.frame, fromAgent, "visitor");

    // The visitor returns to the data channel (retry after ~2 s).
    await eventually(async () => (await transportOf(visitor.frame)) === "datachannel", { timeout: 20_000, what: "visitor back on the data channel" });
    const dc = await metric(server.url, dcSends);
    await send(visitor.frame, "back on the channel");
    await eventually(async () => (await bodies(agent)).includes("back on the channel"), { what: "agent sees the message after the return" });
    assert.equal(await metric(server.url, dcSends), dc + 1, "the send after the return came over a data channel");
    await assertExactlyOnce(agent, [...fromVisitor, "back on the channel"], "agent after the return");
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test("a server with WebRTC off: the clients stay on the WebSocket and do not ask again", async () => {
  const server = await startServer({ env: { PARLEY_RTC: "off" } });
  try {
    const { agent, visitor } = await chatting(server);
    const frame = widgetFrame(visitor.page);
    await eventually(async () => (await frame.evaluate(() => window.parleyDebug.rtcStop)).includes("not enabled"), { what: "visitor told WebRTC is off" });
    await eventually(async () => (await agent.evaluate(() => window.parleyDebug.rtcStop)).includes("not enabled"), { what: "agent told WebRTC is off" });
    await send(agent, "over the websocket");
    await eventually(async () => (await bodies(visitor.frame)).includes("over the websocket"), { what: "visitor sees the reply" });
    assert.equal(await transportOf(visitor.frame), "websocket");
    assert.equal(await transportOf(agent), "websocket");
    // One rtc_start per client, no retries.
    assert.equal(await metric(server.url, `parley_transport_frames_total{direction="in",transport="websocket",type="rtc"}`), 2);
  } finally {
    await server.stop();
    server.cleanup();
  }
});
