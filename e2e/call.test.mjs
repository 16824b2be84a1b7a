// Voice calls and screen share through the relay, in real headless Chromium
// with fake media (--use-fake-device-for-media-stream: a beeping
// microphone) against the real binary and its in-process Pion relay: the
// agent calls, the visitor accepts, each side's getStats() shows audio
// arriving; chat goes on during the call and after the hang-up; a screen
// (a canvas.captureStream() track standing in for getDisplayMedia, which
// headless Chromium cannot capture) reaches the agent as decoded frames;
// declined, unanswered and dropped calls are recorded and leave the chat
// working. Sound is proven where a person hears it: the page's own <audio>
// element plays (not paused, its clock advancing) and a Web Audio analyser
// on the track it plays measures the beep, on both sides. Chromium runs with
// its default autoplay policy, as a visitor's browser does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, launchBrowser, signInAgent, send, bodies, eventually, freePort } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]);
});
after(async () => {
  await browser?.close();
});

// Test instrumentation only: keep every RTCPeerConnection a page makes, so
// the test can read getStats() (the product keeps its own private).
function recordPeerConnections() {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
}

// A moving canvas in place of the screen.
function fakeScreen() {
  navigator.mediaDevices.getDisplayMedia = async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 320;
    canvas.height = 180;
    const g = canvas.getContext("2d");
    let n = 0;
    setInterval(() => {
      g.fillStyle = `hsl(${(n * 7) % 360} 80% 50%)`;
      g.fillRect(0, 0, 320, 180);
      g.fillStyle = "#fff";
      g.fillText(`screen ${n++}`, 20, 90);
    }, 50);
    return canvas.captureStream(20);
  };
}

/** Sum of a kind's inbound-rtp statistic over a scope's peer connections. */
async function inbound(scope, kind, field) {
  return scope.evaluate(
    async ({ kind, field }) => {
      let total = 0;
      for (const pc of window.__pcs ?? []) {
        if (pc.connectionState === "closed") continue;
        const stats = await pc.getStats();
        stats.forEach((s) => {
          if (s.type === "inbound-rtp" && s.kind === kind) total += s[field] ?? 0;
        });
      }
      return total;
    },
    { kind, field },
  );
}

/** Waits until a scope's inbound statistic grows twice (media flowing). */
async function growing(scope, kind, field, what) {
  let last = await inbound(scope, kind, field);
  for (let i = 0; i < 2; i++) {
    const from = last;
    await eventually(async () => (last = await inbound(scope, kind, field)) > from, { what: `${what} (${field} > ${from})` });
  }
  return last;
}

/** Waits until a scope's call audio element plays: not paused, its clock
 * advancing, and an analyser on the track it plays hears more than
 * silence (the fake microphone beeps). Returns what it measured. */
async function hears(scope, who) {
  const state = () =>
    scope.evaluate(() => {
      const a = document.querySelector("[data-testid=remote-audio]");
      const tracks = a?.srcObject?.getAudioTracks?.() ?? [];
      return { paused: a ? a.paused : null, time: a ? a.currentTime : 0, tracks: tracks.filter((t) => t.readyState === "live").length };
    });
  const first = await eventually(async () => {
    const s = await state();
    return !s.paused && s.tracks > 0 && s.time > 0 && s;
  }, { what: `${who}'s call audio element playing a live track`, timeout: 10_000 });
  await eventually(async () => (await state()).time > first.time + 0.5, { what: `${who}'s call audio element's time advancing past ${first.time}` });
  const peak = await scope.evaluate(async () => {
    const a = document.querySelector("[data-testid=remote-audio]");
    const ctx = new AudioContext();
    await ctx.resume();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    ctx.createMediaStreamSource(new MediaStream(a.srcObject.getAudioTracks())).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let peak = 0;
    // The fake microphone beeps about once a second: listen for up to 5 s.
    for (const end = Date.now() + 5000; Date.now() < end && peak < 0.05; ) {
      await new Promise((r) => setTimeout(r, 20));
      analyser.getFloatTimeDomainData(buf);
      for (const v of buf) peak = Math.max(peak, Math.abs(v));
    }
    await ctx.close();
    return peak;
  });
  assert.ok(peak > 0.01, `${who} hears only silence: peak level ${peak}`);
  return { peak, time: first.time };
}

const callState = (scope) => scope.locator("[data-testid=call-state]").first().getAttribute("data-state");
const transportOf = (scope) => scope.locator("[data-testid=conn-state]").first().getAttribute("data-transport");

async function withServer(fn, env = {}) {
  const server = await startServer({ env: { PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true", ...env } });
  try {
    await fn(server);
  } catch (e) {
    e.message += `\nserver logs:\n${server.logs.join("").slice(-4000)}`;
    throw e;
  } finally {
    await server.stop();
    server.cleanup();
  }
}

/** An agent and a visitor in an assigned conversation, both on data
 * channels, with peer connections recorded. */
async function chatting(server) {
  const agent = await signInAgent(browser, server.url);
  await agent.context().addInitScript(recordPeerConnections);
  await agent.reload();
  await agent.waitForSelector("[data-testid=agent-self]");

  const ctx = await browser.newContext();
  await ctx.addInitScript(recordPeerConnections);
  await ctx.addInitScript(fakeScreen);
  const page = await ctx.newPage();
  await page.goto(`${server.url}/demo`);
  await page.click("#parley-launcher");
  const visitor = page.frameLocator("#parley-frame");
  await visitor.locator("[data-testid=composer]").waitFor();
  const frame = () => page.frames().find((f) => f.url().includes("/widget/frame"));

  await send(visitor, "Hello, can we talk?");
  const item = agent.locator("[data-testid=inbox-item]").first();
  await item.waitFor();
  await item.click();
  await eventually(async () => (await bodies(agent)).includes("Hello, can we talk?"), { what: "agent sees the first message" });
  await send(agent, "Sure, let me call you.");
  await eventually(async () => (await bodies(visitor)).includes("Sure, let me call you."), { what: "visitor sees the reply" });
  await eventually(async () => (await transportOf(visitor)) === "datachannel", { what: "visitor on the data channel" });
  await eventually(async () => (await transportOf(agent)) === "datachannel", { what: "agent on the data channel" });
  await agent.locator("[data-testid=call-voice]:not([disabled])").waitFor();
  await visitor.locator("[data-testid=call-screen]:not([disabled])").waitFor();
  return { agent, visitor, frame };
}

test("agent calls, visitor accepts: audio both ways, chat during the call, hang-up returns to chat", async () => {
  await withServer(async (server) => {
    const { agent, visitor, frame } = await chatting(server);

    await agent.click("[data-testid=call-voice]");
    await eventually(async () => (await callState(agent)) === "ringing", { what: "agent sees the call ringing" });
    await visitor.locator("[data-testid=call-accept]").click();
    await eventually(async () => (await callState(agent)) === "active", { what: "agent in an active call" });
    await eventually(async () => (await callState(visitor)) === "active", { what: "visitor in an active call" });

    const agentBytes = await growing(agent, "audio", "bytesReceived", "agent receives the visitor's audio");
    const visitorBytes = await growing(frame(), "audio", "bytesReceived", "visitor receives the agent's audio");
    assert.ok(agentBytes > 0 && visitorBytes > 0);
    const agentHears = await hears(agent, "agent");
    const visitorHears = await hears(frame(), "visitor");
    console.log(`measured: peak level heard by the agent ${agentHears.peak.toFixed(3)}, by the visitor ${visitorHears.peak.toFixed(3)}`);

    // Chat during the call, both ways, still on the data channel.
    await send(visitor, "I can hear you");
    await send(agent, "Great, me too");
    await eventually(async () => (await bodies(agent)).includes("I can hear you"), { what: "agent gets chat during the call" });
    await eventually(async () => (await bodies(visitor)).includes("Great, me too"), { what: "visitor gets chat during the call" });
    assert.equal(await transportOf(visitor), "datachannel");

    // Mute shows on the other side.
    await agent.click("[data-testid=call-mute]");
    await eventually(async () => (await visitor.locator("[data-testid=call-state]").innerText()).includes("muted"), { what: "visitor sees the agent muted" });

    // "Show me what you see": the visitor shares its screen during the
    // call; the agent decodes it while the audio goes on; stopping the
    // share leaves the voice call up.
    await visitor.locator("[data-testid=call-screen]").click();
    await agent.locator("[data-testid=call][data-kind=screen] [data-testid=call-accept]").click();
    await eventually(async () => (await agent.locator("[data-testid=call][data-kind=screen]").getAttribute("data-state")) === "active", { what: "share active beside the call" });
    await growing(agent, "video", "framesDecoded", "agent decodes the screen during the call");
    await growing(agent, "audio", "bytesReceived", "audio still arriving during the share");
    await visitor.locator("[data-testid=call][data-kind=screen] [data-testid=call-hangup]").click();
    await eventually(async () => (await agent.locator("[data-testid=call][data-kind=screen]").count()) === 0, { what: "share ended" });
    assert.equal(await agent.locator("[data-testid=call][data-kind=voice]").getAttribute("data-state"), "active");
    await growing(frame(), "audio", "bytesReceived", "audio still arriving after the share");

    await visitor.locator("[data-testid=call-hangup]").click();
    for (const [scope, who] of [[agent, "agent"], [visitor, "visitor"]]) {
      await eventually(async () => (await callState(scope)) === "ended", { what: `${who} back to chat` });
      assert.equal(await scope.locator("[data-testid=call-ended]").getAttribute("data-reason"), "hung_up");
      await eventually(async () => (await bodies(scope)).some((b) => /^Voice call started: Admin called /.test(b)), { what: `${who} sees the call start recorded` });
      await eventually(async () => (await bodies(scope)).some((b) => /^Voice call ended by .* after \d+:\d\d$/.test(b)), { what: `${who} sees the call end recorded` });
    }
    // The audio stops arriving once the call's tracks are gone.
    const stopped = await inbound(agent, "audio", "bytesReceived");
    await new Promise((r) => setTimeout(r, 1500));
    const later = await inbound(agent, "audio", "bytesReceived");
    assert.ok(later - stopped < 2000, `audio still arriving after the hang-up: ${later - stopped} bytes in 1.5 s`);

    await send(visitor, "after the call");
    await eventually(async () => (await bodies(agent)).includes("after the call"), { what: "chat after the call" });
    assert.equal(await transportOf(visitor), "datachannel", "the data channel survived the call");

    // A second call in the same conversation plays too (the relay may
    // reuse the first call's transceivers and tracks).
    await agent.click("[data-testid=call-voice]");
    await visitor.locator("[data-testid=call-accept]").click();
    await eventually(async () => (await callState(agent)) === "active", { what: "second call active" });
    await hears(agent, "agent (second call)");
    await hears(frame(), "visitor (second call)");
  });
});

test("visitor shares a screen (canvas track): the agent decodes frames; stopping returns to chat", async () => {
  await withServer(async (server) => {
    const { agent, visitor, frame } = await chatting(server);
    // The demo site does not let visitors start voice calls: no Call button.
    assert.equal(await visitor.locator("[data-testid=call-voice]").count(), 0);

    await visitor.locator("[data-testid=call-screen]").click();
    await eventually(async () => (await callState(visitor)) === "ringing", { what: "visitor asks to share" });
    await agent.click("[data-testid=call-accept]");
    await eventually(async () => (await callState(agent)) === "active", { what: "agent viewing" });
    await growing(agent, "video", "framesDecoded", "agent decodes the visitor's screen");
    await agent.locator("[data-testid=remote-video]").waitFor();
    assert.equal(await inbound(frame(), "video", "framesDecoded"), 0, "the visitor receives no video");

    await send(agent, "I see your screen");
    await eventually(async () => (await bodies(visitor)).includes("I see your screen"), { what: "chat during the share" });

    await agent.click("[data-testid=call-hangup]");
    await eventually(async () => (await callState(visitor)) === "ended", { what: "visitor's share ended" });
    await eventually(async () => (await bodies(agent)).some((b) => /^Screen share ended by Admin after /.test(b)), { what: "share recorded" });
  });
});

test("declined, unanswered and dropped calls are recorded and the chat keeps working", { timeout: 170_000 }, async () => {
  await withServer(async (server) => {
    const { agent, visitor, frame } = await chatting(server);

    // Declined.
    await agent.click("[data-testid=call-voice]");
    await visitor.locator("[data-testid=call-decline]").click();
    for (const scope of [agent, visitor]) {
      await eventually(async () => (await callState(scope)) === "ended", { what: "declined call ended" });
      assert.equal(await scope.locator("[data-testid=call-ended]").getAttribute("data-reason"), "declined");
    }
    await eventually(async () => (await bodies(visitor)).includes("Voice call from Admin declined"), { what: "decline recorded" });
    await send(visitor, "sorry, not now");
    await eventually(async () => (await bodies(agent)).includes("sorry, not now"), { what: "chat after a decline" });

    // Unanswered: it rings for PARLEY_CALL_RING_TIMEOUT (10 s here, 30 s
    // by default), then counts as missed.
    await agent.click("[data-testid=call-voice]");
    await eventually(async () => (await callState(visitor)) === "ringing", { what: "visitor's widget rings" });
    await eventually(async () => (await callState(agent)) === "ended", { timeout: 30_000, what: "unanswered call times out" });
    assert.equal(await agent.locator("[data-testid=call-ended]").getAttribute("data-reason"), "missed");
    await eventually(async () => (await bodies(agent)).includes("Voice call from Admin not answered"), { what: "missed call recorded" });
    assert.equal(await callState(visitor), "ended");

    // Dropped: the visitor's WebRTC connection dies mid-call.
    await agent.click("[data-testid=call-voice]");
    await visitor.locator("[data-testid=call-accept]").click();
    await eventually(async () => (await callState(agent)) === "active", { what: "third call active" });
    await frame().evaluate(() => window.parleyDebug.dropDataChannel());
    await eventually(async () => (await callState(agent)) === "ended", { what: "dropped call ended" });
    assert.equal(await agent.locator("[data-testid=call-ended]").getAttribute("data-reason"), "dropped");
    await eventually(async () => (await bodies(agent)).some((b) => /^Voice call dropped \(connection lost\) after /.test(b)), { what: "drop recorded" });
    await send(visitor, "my connection hiccuped");
    await eventually(async () => (await bodies(agent)).includes("my connection hiccuped"), { what: "chat after a dropped call" });
  }, { PARLEY_CALL_RING_TIMEOUT: "10s" });
});

test("without WebRTC the call buttons say calls aren't possible on this network; chat works", async () => {
  const server = await startServer({ env: { PARLEY_RTC: "off" } });
  try {
    const agent = await signInAgent(browser, server.url);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${server.url}/demo`);
    await page.click("#parley-launcher");
    const visitor = page.frameLocator("#parley-frame");
    await send(visitor, "no WebRTC here");
    const item = agent.locator("[data-testid=inbox-item]").first();
    await item.waitFor();
    await item.click();
    await send(agent, "hello over the WebSocket");
    await eventually(async () => (await bodies(visitor)).includes("hello over the WebSocket"), { what: "chat over the WebSocket" });
    for (const [scope, button] of [[agent, "call-voice"], [agent, "call-screen"], [visitor, "call-screen"]]) {
      const b = scope.locator(`[data-testid=${button}]`);
      await b.waitFor();
      assert.equal(await b.isDisabled(), true, `${button} is disabled`);
      assert.equal(await b.getAttribute("title"), "Calls aren't possible on this network");
    }
    assert.match(await agent.locator("[data-testid=call-state]").innerText(), /Calls aren't possible on this network/);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

// The relay's cost per active call, read off the signaling process (its
// in-process relay forwards the media): CPU time from /proc/<pid>/stat and
// resident memory, over equal windows of plain chat on data channels, a
// voice call and a screen share. Opt-in (PARLEY_CALL_MEASURE=1): it prints
// figures, it asserts nothing about them.
function procSample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rss = Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]);
  return { cpuMs: (ticks * 1000) / 100, rssKB: rss, at: Date.now() };
}

async function window_(pid, ms) {
  const a = procSample(pid);
  await new Promise((r) => setTimeout(r, ms));
  const b = procSample(pid);
  return { cpuMsPerS: ((b.cpuMs - a.cpuMs) * 1000) / (b.at - a.at), rssKB: b.rssKB };
}

/** Inbound payload bit rate of a kind at a scope, over 5 s. */
async function kbps(scope, kind) {
  const a = await inbound(scope, kind, "bytesReceived");
  await new Promise((r) => setTimeout(r, 5000));
  return ((await inbound(scope, kind, "bytesReceived")) - a) * 8 / 5000;
}

test("measure: relay CPU and memory per active call", { skip: !process.env.PARLEY_CALL_MEASURE, timeout: 170_000 }, async () => {
  await withServer(async (server) => {
    const { agent, visitor } = await chatting(server);
    const pid = server.proc.pid;
    const span = 15_000;
    const idle = await window_(pid, span);
    await agent.click("[data-testid=call-voice]");
    await visitor.locator("[data-testid=call-accept]").click();
    await eventually(async () => (await callState(agent)) === "active", { what: "voice call active" });
    await growing(agent, "audio", "bytesReceived", "audio flowing");
    const audioKbps = await kbps(agent, "audio");
    const voice = await window_(pid, span);
    await agent.click("[data-testid=call-hangup]");
    await eventually(async () => (await callState(visitor)) === "ended", { what: "voice call ended" });
    await visitor.locator("[data-testid=call-screen]").click();
    await agent.click("[data-testid=call-accept]");
    await growing(agent, "video", "framesDecoded", "video flowing");
    const screen = await window_(pid, span);
    const videoKbps = await kbps(agent, "video");
    const fmt = (w) => `${w.cpuMsPerS.toFixed(1)} ms CPU/s, RSS ${(w.rssKB / 1024).toFixed(1)} MB`;
    console.log(`measured: signaling+relay with plain chat on data channels: ${fmt(idle)}`);
    console.log(`measured: one voice call (Opus payload ${audioKbps.toFixed(0)} kbit/s each way): ${fmt(voice)}`);
    console.log(`measured: one screen share (VP8 payload ${videoKbps.toFixed(0)} kbit/s): ${fmt(screen)}`);
  });
});

// Calls through a standalone relay (go run ./relay): the same call as
// above, with signaling driving the relay process over its control link;
// kill -9 of the relay ends both calls as dropped and the chat goes on over
// the WebSocket. With PARLEY_CALL_MEASURE=1 it also prints the relay
// process's own CPU and memory idle and with the voice call.
const RELAY_SECRET = "e2e-relay-secret-0123456789abcdef01234567";
let relayBin;

async function startRelay(server) {
  if (!relayBin) {
    relayBin = join(mkdtempSync(join(tmpdir(), "parley-e2e-relay-")), "relay");
    execFileSync("go", ["build", "-o", relayBin, "./relay"], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: "inherit" });
  }
  const port = await freePort();
  const logs = [];
  const proc = spawn(relayBin, [], {
    env: {
      ...process.env, PARLEY_RELAY_SECRET: RELAY_SECRET, PARLEY_RELAY_ADDR: `127.0.0.1:${port}`, PARLEY_RELAY_ID: "e2e-relay",
      PARLEY_RELAY_SIGNALING_URLS: server.url, PARLEY_RELAY_HEARTBEAT: "500ms", PARLEY_RTC_LOOPBACK: "true",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout.on("data", (d) => logs.push(String(d)));
  proc.stderr.on("data", (d) => logs.push(String(d)));
  const exited = new Promise((r) => proc.on("exit", r));
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await exited;
  };
  try {
    // Ready: its heartbeat reached signaling.
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { what: "the relay registered with signaling" });
  } catch (e) {
    await kill();
    e.message += `\nrelay logs:\n${logs.join("").slice(-4000)}`;
    throw e;
  }
  return { proc, logs, kill };
}

test("through a standalone relay: voice and a screen share, then kill -9 of the relay drops both and chat goes on", { timeout: 170_000 }, async () => {
  const server = await startServer({ env: { PARLEY_RTC: "on", PARLEY_RTC_LOOPBACK: "true", PARLEY_RELAY_SECRET: RELAY_SECRET } });
  let relay;
  try {
    relay = await startRelay(server);
    const { agent, visitor, frame } = await chatting(server);
    const idle = process.env.PARLEY_CALL_MEASURE && (await window_(relay.proc.pid, 15_000));

    await agent.click("[data-testid=call-voice]");
    await visitor.locator("[data-testid=call-accept]").click();
    await eventually(async () => (await callState(agent)) === "active", { what: "agent in an active call" });
    await eventually(async () => (await callState(visitor)) === "active", { what: "visitor in an active call" });
    await growing(agent, "audio", "bytesReceived", "agent receives the visitor's audio through the relay");
    await growing(frame(), "audio", "bytesReceived", "visitor receives the agent's audio through the relay");
    if (idle) {
      const voice = await window_(relay.proc.pid, 15_000);
      const fmt = (w) => `${w.cpuMsPerS.toFixed(1)} ms CPU/s, RSS ${(w.rssKB / 1024).toFixed(1)} MB`;
      console.log(`measured: standalone relay process, chat on data channels only: ${fmt(idle)}; with one voice call: ${fmt(voice)}`);
    }

    await visitor.locator("[data-testid=call-screen]").click();
    await agent.locator("[data-testid=call][data-kind=screen] [data-testid=call-accept]").click();
    await growing(agent, "video", "framesDecoded", "agent decodes the screen through the relay");
    await send(visitor, "can you see it?");
    await eventually(async () => (await bodies(agent)).includes("can you see it?"), { what: "chat during the calls" });

    await relay.kill();
    for (const [scope, who] of [[agent, "agent"], [visitor, "visitor"]]) {
      await eventually(async () => (await scope.locator("[data-testid=call]").count()) === 0 || (await callState(scope)) === "ended", { what: `${who}'s calls ended` });
      await eventually(async () => (await bodies(scope)).some((b) => /^Voice call dropped \(connection lost\) after /.test(b)), { what: `${who} sees the voice call dropped` });
      await eventually(async () => (await bodies(scope)).some((b) => /^Screen share dropped \(connection lost\) after /.test(b)), { what: `${who} sees the share dropped` });
      await eventually(async () => (await transportOf(scope)) === "websocket", { what: `${who} back on the WebSocket` });
    }
    await send(visitor, "the relay is gone, are you there?");
    await eventually(async () => (await bodies(agent)).includes("the relay is gone, are you there?"), { what: "chat after the relay died" });
  } catch (e) {
    e.message += `\nserver logs:\n${server.logs.join("").slice(-3000)}\nrelay logs:\n${relay?.logs.join("").slice(-3000)}`;
    throw e;
  } finally {
    await relay?.kill();
    await server.stop();
    server.cleanup();
  }
});
