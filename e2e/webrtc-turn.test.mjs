// Chat through TURN, in real headless Chromium against the real binary: a
// coturn (Debian's turnserver) on loopback checks credentials with the
// TURN REST scheme (use-auth-secret), signaling mints them with the same
// secret, and PARLEY_ICE_TRANSPORT_POLICY=relay makes the widget and the
// agent app use relayed candidates only, so the data channel can only open
// through coturn. With a secret coturn does not know, the allocations are
// refused and chat stays on the WebSocket.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { startServer, launchBrowser, send, bodies, eventually } from "./harness.mjs";
import { metric, dcSends, transportOf, widgetFrame, chatting, assertExactlyOnce, exchange } from "./webrtc-helpers.mjs";

const TURNSERVER = "/usr/bin/turnserver";
const SECRET = "parley-e2e-turn-secret-7d2a";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** A port free on 127.0.0.1 for both UDP and TCP (coturn takes both). */
async function freeUDPTCPPort() {
  for (let i = 0; i < 20; i++) {
    const sock = dgram.createSocket("udp4");
    const port = await new Promise((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(0, "127.0.0.1", () => resolve(sock.address().port));
    });
    const ok = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    await new Promise((r) => sock.close(r));
    if (ok) return port;
  }
  throw new Error("no free UDP+TCP port on 127.0.0.1");
}

/** Whether a STUN binding request to 127.0.0.1:port gets an answer. */
function stunAnswers(port) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket("udp4");
    const req = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), randomBytes(12)]);
    const done = (ok) => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 300);
    sock.on("message", (m) => done(m.length >= 20 && m[0] === 0x01 && m[1] === 0x01));
    sock.on("error", () => done(false));
    sock.send(req, port, "127.0.0.1");
  });
}

/**
 * Starts coturn on 127.0.0.1 as pkg/turn/turntest does: use-auth-secret
 * with `secret`, loopback peers allowed (the relay is on 127.0.0.1; only
 * for this test: turn.conf denies private peers). Returns {url, log(), stop()}.
 */
async function startCoturn(secret) {
  if (!existsSync(TURNSERVER)) throw new Error(`${TURNSERVER} is missing: make test installs Debian's coturn`);
  const dir = mkdtempSync(join(tmpdir(), "parley-e2e-coturn-"));
  const port = await freeUDPTCPPort();
  const out = [];
  const proc = spawn(TURNSERVER, [
    "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", `--listening-port=${port}`,
    "--min-port=49152", "--max-port=65535",
    "--use-auth-secret", `--static-auth-secret=${secret}`, "--realm=parley.test",
    "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
    // Verbose: coturn logs each allocation it grants or refuses. To a file,
    // which coturn flushes line by line (its piped stdout is buffered).
    "--verbose", `--log-file=${join(dir, "turn.log")}`, "--simple-log", `--pidfile=${join(dir, "turnserver.pid")}`, `--db=${join(dir, "turndb")}`,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout.on("data", (d) => out.push(String(d)));
  proc.stderr.on("data", (d) => out.push(String(d)));
  const exited = new Promise((r) => proc.on("exit", r));
  const coturn = {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    log: () => {
      try {
        return readFileSync(join(dir, "turn.log"), "utf8");
      } catch {
        return out.join("");
      }
    },
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (!(await stunAnswers(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await coturn.stop();
      throw new Error(`coturn did not answer STUN on port ${port}:\n${coturn.log()}`);
    }
  }
  return coturn;
}

/** Signaling whose clients may only use relayed candidates through coturn,
 * with credentials minted from `secret`. */
function turnOnlyServer(coturn, secret) {
  return startServer({
    env: {
      PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true",
      PARLEY_TURN_URLS: coturn.url, PARLEY_TURN_SECRET: secret,
      PARLEY_ICE_TRANSPORT_POLICY: "relay",
    },
  });
}

// coturn's log lines for an allocation granted to a minted username
// (expiry:participant), and for minted credentials refused (the first 401,
// for user <>, is the usual challenge that asks for credentials).
const allocated = /user <\d+:[^>]+>: incoming packet ALLOCATE processed, success/;
const refused = /user <\d+:[^>]+>: incoming packet \w+ processed, error 401/;

test("relay-only ICE: the data channel opens through coturn with credentials signaling minted", async () => {
  const coturn = await startCoturn(SECRET);
  let server;
  try {
    server = await turnOnlyServer(coturn, SECRET);
    const { agent, visitor } = await chatting(browser, server);
    // Through TURN the relay waits for a direct path a little first (its
    // TURN path wait), so allow more than the direct case needs.
    await eventually(async () => (await transportOf(visitor.frame)) === "datachannel", { timeout: 30_000, what: "visitor on the data channel" });
    await eventually(async () => (await transportOf(agent)) === "datachannel", { timeout: 30_000, what: "agent on the data channel" });
    assert.equal(await widgetFrame(visitor.page).evaluate(() => window.parleyDebug.transport), "datachannel");

    // Both browsers took relayed candidates only, and coturn granted them
    // allocations with the minted credentials (username expiry:participant).
    const log = coturn.log();
    assert.match(log, allocated, `coturn granted no allocation:\n${log}`);
    assert.doesNotMatch(log, refused, "no allocation refused");

    const sends = await exchange(server, visitor, agent, ["turn visitor 1", "turn visitor 2"], ["turn agent 1", "turn agent 2"]);
    assert.equal(sends.dc, sends.sent, "sends received over the data channels (through coturn)");
    assert.equal(sends.ws, 0, "no send over a WebSocket");
  } finally {
    await server?.stop();
    server?.cleanup();
    await coturn.stop();
  }
});

test("relay-only ICE with credentials coturn refuses: chat stays on the WebSocket, nothing lost", async () => {
  const coturn = await startCoturn(SECRET);
  let server;
  try {
    // Signaling signs with another secret: coturn refuses the credentials.
    server = await turnOnlyServer(coturn, "not-the-secret-coturn-has-0000");
    const { agent, visitor } = await chatting(browser, server);
    const frame = widgetFrame(visitor.page);
    await eventually(async () => (await frame.evaluate(() => window.parleyDebug.rtcStop)) !== "", { timeout: 20_000, what: "visitor gave WebRTC up" });
    await eventually(async () => refused.test(coturn.log()), { what: "coturn refused the forged allocation" });
    assert.doesNotMatch(coturn.log(), allocated, "no allocation granted");

    const fromVisitor = ["refused visitor 1", "refused visitor 2"];
    const fromAgent = ["refused agent 1"];
    for (const m of fromVisitor) await send(visitor.frame, m);
    for (const m of fromAgent) await send(agent, m);
    await eventually(async () => (await bodies(agent)).filter((b) => fromVisitor.includes(b)).length === 2, { what: "agent sees the visitor's" });
    await eventually(async () => (await bodies(visitor.frame)).filter((b) => fromAgent.includes(b)).length === 1, { what: "visitor sees the agent's" });
    await assertExactlyOnce(agent, fromVisitor, "agent");
    await assertExactlyOnce(visitor.frame, fromAgent, "visitor");
    assert.equal(await transportOf(visitor.frame), "websocket");
    assert.equal(await transportOf(agent), "websocket");
    assert.equal(await metric(server.url, dcSends), 0, "nothing came over a data channel");
  } finally {
    await server?.stop();
    server?.cleanup();
    await coturn.stop();
  }
});
