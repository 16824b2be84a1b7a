// The dashboard's first view on a large archive (issue: "with 10,000
// conversations and 1M messages in the store, the first view is usable in
// under 1 s"), measured in headless Chromium with a trace.
//
// `make bench-dashboard` runs it: a server on a fresh SQLite data dir,
// 10,000 conversations of 100 messages (1,000,000) written by
// e2e/reportseed, 20 of them still open (the signed-in agent's); then ROUNDS cold loads of the
// dashboard (new browser context, signed-in cookie) on a tablet-sized
// screen, each timed from navigation start to:
//   - inbox: the first conversation shown in the inbox,
//   - open: a click on it until its messages are shown,
// with the main thread's busy time and longest task read from the trace
// (devtools.timeline RunTask events on the renderer's main thread).
// Writes docs/bench-dashboard.md (or $PARLEY_BENCH_OUT).
// PARLEY_BENCH_DATA=dir keeps the archive in dir and reuses it on the next
// run (seeding 1M messages takes a while; a before/after needs the same one).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, launchBrowser, signInAgent } from "./harness.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CONVERSATIONS = Number(process.env.PARLEY_BENCH_CONVERSATIONS ?? 10_000);
const EACH = Number(process.env.PARLEY_BENCH_MESSAGES_EACH ?? 100);
const OPEN = Number(process.env.PARLEY_BENCH_OPEN ?? 20); // a busy agent's open chats
const ROUNDS = Number(process.env.PARLEY_BENCH_ROUNDS ?? 7);
const out = process.env.PARLEY_BENCH_OUT ?? join(root, "docs", "bench-dashboard.md");
const keptData = process.env.PARLEY_BENCH_DATA;
const viewport = { width: 1024, height: 768 }; // a tablet, landscape

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs) => Math.max(...xs);

// Main-thread work from a Chromium trace: the top-level tasks of the
// renderer main thread that ran the page, from its navigationStart to the
// "parley-inbox" mark the page sets when the inbox shows (user timing).
function mainThread(trace) {
  const events = trace.traceEvents;
  const mark = events.find((e) => e.name === "parley-inbox");
  const nav = mark && events.find((e) => e.name === "navigationStart" && e.pid === mark.pid);
  if (!mark || !nav) return { busy: NaN, longest: NaN };
  const tasks = events.filter((e) => e.pid === mark.pid && e.tid === nav.tid && e.ph === "X" && e.name === "RunTask" && e.ts >= nav.ts && e.ts <= mark.ts);
  return {
    busy: tasks.reduce((s, e) => s + e.dur, 0) / 1000,
    longest: tasks.reduce((m, e) => Math.max(m, e.dur), 0) / 1000,
  };
}

async function main() {
  if (keptData) mkdirSync(keptData, { recursive: true });
  const reuse = keptData && existsSync(join(keptData, "parley.db"));
  const server = await startServer({ dataDir: keptData });
  let browser;
  try {
    // The archive, straight into the database (chats cannot be backdated
    // live), then a restart so the measure starts from a cold process.
    const seedStart = Date.now();
    if (!reuse) {
      execFileSync("go", ["run", "./e2e/reportseed", "-db", join(server.dataDir, "parley.db"), "-days", "365",
        "-n", String(CONVERSATIONS), "-messages", String(EACH), "-open", String(OPEN)], { cwd: root, stdio: "inherit" });
    }
    const seedSeconds = (Date.now() - seedStart) / 1000;
    const dbBytes = statSync(join(server.dataDir, "parley.db")).size;
    await server.stop();
    const live = await server.restart();

    browser = await launchBrowser();
    const first = await signInAgent(browser, live.url);
    const state = await first.context().storageState();
    await first.context().close();

    const rounds = [];
    const traceDir = mkdtempSync(join(tmpdir(), "parley-trace-"));
    for (let i = 0; i < ROUNDS; i++) {
      const ctx = await browser.newContext({ storageState: state, viewport });
      const page = await ctx.newPage();
      // Marks the moment the first inbox item and the first message appear.
      await page.addInitScript(() => {
        const marks = (window.__marks = {});
        new MutationObserver(() => {
          if (!marks.inbox && document.querySelector("[data-testid=inbox-item]")) {
            marks.inbox = performance.now();
            performance.mark("parley-inbox");
          }
          if (marks.click && !marks.messages && document.querySelector("[data-testid=message-body]")) marks.messages = performance.now();
        }).observe(document, { childList: true, subtree: true });
      });
      const tracePath = join(traceDir, `round-${i}.json`);
      await browser.startTracing(page, { path: tracePath, categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "blink.user_timing"] });
      await page.goto(`${live.url}/app/`);
      const item = page.locator("[data-testid=inbox-item]").first();
      await item.waitFor({ timeout: 60_000 });
      await page.evaluate(() => (window.__marks.click = performance.now()));
      await item.click();
      await page.locator("[data-testid=message-body]").first().waitFor({ timeout: 60_000 });
      const marks = await page.evaluate(() => ({ ...window.__marks, origin: performance.timeOrigin }));
      await browser.stopTracing();
      const trace = JSON.parse(readFileSync(tracePath, "utf8"));
      const work = mainThread(trace);
      rounds.push({ inbox: marks.inbox, open: marks.messages - marks.click, busy: work.busy, longest: work.longest });
      if (i === 0) await page.screenshot({ path: join(traceDir, "first-view.png") });
      await ctx.close();
    }
    const f = (x) => (Number.isFinite(x) ? x.toFixed(0) : "—");
    const row = (name, key) => `| ${name} | ${f(median(rounds.map((r) => r[key])))} | ${f(max(rounds.map((r) => r[key])))} |`;
    const md = `# Dashboard first view on a large archive

Generated by \`make bench-dashboard\` (e2e/firstview.bench.mjs) on ${new Date().toISOString().slice(0, 10)}: one
signaling process on SQLite with ${CONVERSATIONS.toLocaleString("en")} conversations of ${EACH} messages
(${(CONVERSATIONS * EACH).toLocaleString("en")} in all, ${OPEN} still open; database ${(dbBytes / 1e6).toFixed(0)} MB, seeded in
${seedSeconds.toFixed(0)} s), restarted before the measure. Headless Chromium (Debian's), ${viewport.width}×${viewport.height}
viewport, ${ROUNDS} cold loads (a new browser context each, already signed in), on the same shared
2-core machine as the server. Times in milliseconds from navigation start.

| measure | median | worst |
|---|---|---|
${row("first conversation shown in the inbox", "inbox")}
${row("a click on it until its messages show", "open")}
${row("main-thread busy time until the inbox shows (trace)", "busy")}
${row("longest main-thread task until then (trace)", "longest")}

Target: the first view usable in under 1,000 ms.
`;
    writeFileSync(out, md);
    console.log(md);
    console.log(`traces and a screenshot in ${traceDir}`);
    await live.stop();
  } finally {
    await browser?.close();
    await server.stop();
    if (!keptData) server.cleanup();
  }
}

await main();
