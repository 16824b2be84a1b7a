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
import { tmpdir, loadavg } from "node:os";
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
// busy is their wall time, which on a loaded machine counts the time the
// thread waited for a core; cpu is their thread time (tdur), the work
// itself; script is the CPU of compiling and running scripts and modules
// (the rest is rendering, layout and the event handlers' own time).
export function mainThread(trace) {
  const events = trace.traceEvents;
  const mark = events.find((e) => e.name === "parley-inbox");
  const nav = mark && events.find((e) => e.name === "navigationStart" && e.pid === mark.pid);
  if (!mark || !nav) return { busy: NaN, longest: NaN, cpu: NaN, script: NaN };
  const main = events.filter((e) => e.pid === mark.pid && e.tid === nav.tid && e.ph === "X" && e.ts >= nav.ts && e.ts <= mark.ts);
  const tasks = main.filter((e) => e.name === "RunTask");
  const sum = (xs, f) => xs.reduce((s, e) => s + (f(e) ?? 0), 0) / 1000;
  return {
    busy: sum(tasks, (e) => e.dur),
    longest: tasks.reduce((m, e) => Math.max(m, e.dur), 0) / 1000,
    cpu: sum(tasks, (e) => e.tdur),
    script: sum(main.filter((e) => SCRIPT_LOADING.has(e.name)), (e) => e.tdur),
  };
}

// Trace events of loading code (not nested in one another).
const SCRIPT_LOADING = new Set(["EvaluateScript", "v8.evaluateModule", "v8.compileModule"]);

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
      const marks = await page.evaluate(() => ({
        ...window.__marks,
        // Script fetched before the inbox showed (decoded bytes).
        js: performance
          .getEntriesByType("resource")
          .filter((r) => r.name.endsWith(".js") && r.responseEnd <= window.__marks.inbox)
          .reduce((n, r) => n + r.decodedBodySize, 0),
      }));
      await browser.stopTracing();
      const trace = JSON.parse(readFileSync(tracePath, "utf8"));
      const work = mainThread(trace);
      rounds.push({ inbox: marks.inbox, open: marks.messages - marks.click, ...work, js: marks.js, load: loadavg()[0] });
      if (i === 0) await page.screenshot({ path: join(traceDir, "first-view.png") });
      await ctx.close();
    }
    for (const r of rounds) r.kb = r.js / 1000;
    const f = (x) => (Number.isFinite(x) ? x.toFixed(0) : "—");
    const row = (name, key) => `| ${name} | ${f(median(rounds.map((r) => r[key])))} | ${f(max(rounds.map((r) => r[key])))} |`;
    const md = `# Dashboard first view on a large archive

Generated by \`make bench-dashboard\` (e2e/firstview.bench.mjs) on ${new Date().toISOString().slice(0, 10)}: one
signaling process on SQLite with ${CONVERSATIONS.toLocaleString("en")} conversations of ${EACH} messages
(${(CONVERSATIONS * EACH).toLocaleString("en")} in all, ${OPEN} still open; database ${(dbBytes / 1e6).toFixed(0)} MB, ${reuse ? "seeded by an earlier run" : `seeded in
${seedSeconds.toFixed(0)} s`}), restarted before the measure. Headless Chromium (Debian's), ${viewport.width}×${viewport.height}
viewport, ${ROUNDS} cold loads (a new browser context each, already signed in), on the same shared
2-core machine as the server. Times in milliseconds from navigation start.

| measure | median | worst |
|---|---|---|
${row("first conversation shown in the inbox", "inbox")}
${row("a click on it until its messages show", "open")}
${row("main-thread busy time until the inbox shows (trace)", "busy")}
${row("longest main-thread task until then (trace)", "longest")}
${row("main-thread CPU time until then (trace)", "cpu")}
${row("of which compiling and running script (trace)", "script")}
${row("script downloaded until then (KB)", "kb")}
${row("load average (1 min) during the load", "load")}

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

// Imported (mainThread, to read older traces), it measures nothing.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
