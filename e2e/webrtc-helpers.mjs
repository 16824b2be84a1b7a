// Helpers of the WebRTC end-to-end tests (webrtc*.test.mjs): server
// metrics, the transport each client says it uses, a visitor and an agent
// in one conversation, and the exactly-once check.
import assert from "node:assert/strict";
import { signInAgent, openWidget, send, bodies, eventually } from "./harness.mjs";

/** One sample of the server's Prometheus metrics (0 when absent). */
export async function metric(url, series) {
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const line of text.split("\n")) {
    const i = line.lastIndexOf(" ");
    if (i > 0 && line.slice(0, i) === series) return Number(line.slice(i + 1));
  }
  return 0;
}

export const dcSends = `parley_transport_frames_total{direction="in",transport="datachannel",type="send"}`;
export const wsSends = `parley_transport_frames_total{direction="in",transport="websocket",type="send"}`;

/** The transport a page (or the widget's frame) shows in its diagnostics. */
export const transportOf = (scope) => scope.locator("[data-testid=conn-state]").first().getAttribute("data-transport");

/** The widget's iframe, where its parleyDebug lives. */
export function widgetFrame(page) {
  return page.frames().find((f) => f.url().includes("/widget/frame"));
}

/** Visitor and agent in a conversation; returns their pages. */
export async function chatting(browser, server) {
  const agent = await signInAgent(browser, server.url);
  const visitor = await openWidget(browser, server.url);
  await send(visitor.frame, "Hi, is anyone there?");
  const item = agent.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(agent)).includes("Hi, is anyone there?"), { what: "agent sees the first message" });
  return { agent, visitor };
}

/** Asserts a scope shows exactly `expected` (in this order, once each)
 * among the messages it shows, and seqs in order without duplicates. */
export async function assertExactlyOnce(scope, expected, what) {
  const shown = (await bodies(scope)).filter((b) => expected.includes(b));
  assert.deepEqual(shown, expected, `${what}: all, once, in order`);
  const seqs = await scope.locator("[data-testid=message]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-seq"))));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${what}: seq order`);
  assert.equal(new Set(seqs).size, seqs.length, `${what}: no message twice`);
}

/** Sends fromVisitor from the widget and fromAgent from the dashboard,
 * waits until both sides show every one of them acked, checks each side
 * shows the other's exactly once in order, and returns how many sends the
 * server took over data channels and over WebSockets meanwhile. */
export async function exchange(server, visitor, agent, fromVisitor, fromAgent) {
  const before = { dc: await metric(server.url, dcSends), ws: await metric(server.url, wsSends) };
  for (const m of fromVisitor) await send(visitor.frame, m);
  for (const m of fromAgent) await send(agent, m);
  const all = [...fromVisitor, ...fromAgent];
  await eventually(async () => (await bodies(agent)).filter((b) => all.includes(b)).length === all.length, { what: "agent sees all" });
  await eventually(async () => (await bodies(visitor.frame)).filter((b) => all.includes(b)).length === all.length, { what: "visitor sees all" });
  await eventually(async () => (await visitor.frame.locator("[data-testid=message][data-pending=true]").count()) === 0, { what: "visitor's acked" });
  await eventually(async () => (await agent.locator("[data-testid=message][data-pending=true]").count()) === 0, { what: "agent's acked" });
  await assertExactlyOnce(agent, fromVisitor, "agent");
  await assertExactlyOnce(visitor.frame, fromAgent, "visitor");
  return { dc: (await metric(server.url, dcSends)) - before.dc, ws: (await metric(server.url, wsSends)) - before.ws, sent: all.length };
}
