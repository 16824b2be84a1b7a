// Test harness: builds the real signaling binary, starts it on a free
// loopback port with a temporary data dir, and launches Debian's headless
// Chromium through playwright-core. Nothing here downloads a browser.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { before, after } from "node:test";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const ADMIN_EMAIL = "admin@parley.local";
export const ADMIN_PASSWORD = "e2e-admin-password";
const CHROMIUM = process.env.PARLEY_CHROMIUM || "/usr/bin/chromium";

let binary;
/** Builds ./signaling once per test process (Go's build cache makes it quick). */
export function buildSignaling() {
  if (binary) return binary;
  const dir = mkdtempSync(join(tmpdir(), "parley-e2e-bin-"));
  binary = join(dir, "signaling");
  execFileSync("go", ["build", "-o", binary, "./signaling"], { cwd: root, stdio: "inherit" });
  return binary;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/**
 * Starts the signaling binary. Returns {url, proc, dataDir, stop(), kill(),
 * restart()}; output is kept in `logs` for failure messages.
 */
export async function startServer({ env = {}, dataDir, port } = {}) {
  const bin = buildSignaling();
  dataDir ??= mkdtempSync(join(tmpdir(), "parley-e2e-data-"));
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs = [];
  const proc = spawn(bin, [], {
    env: {
      ...process.env,
      PARLEY_ADDR: `127.0.0.1:${port}`,
      PARLEY_PUBLIC_URL: url,
      PARLEY_DATA_DIR: dataDir,
      PARLEY_ADMIN_EMAIL: ADMIN_EMAIL,
      PARLEY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      PARLEY_SHUTDOWN_GRACE: "3s",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout.on("data", (d) => logs.push(String(d)));
  proc.stderr.on("data", (d) => logs.push(String(d)));
  const exited = new Promise((r) => proc.on("exit", r));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`signaling exited early:\n${logs.join("")}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`signaling not ready in 30 s:\n${logs.join("")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const server = {
    url, port, proc, dataDir, logs,
    /** SIGTERM and wait for exit. */
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
    /** kill -9. */
    async kill() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
    /** Start again on the same port and data dir. */
    restart() {
      return startServer({ env, dataDir, port });
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

export async function demoSiteId(url) {
  const html = await (await fetch(`${url}/demo`)).text();
  const m = html.match(/data-site="([^"]+)"/);
  if (!m) throw new Error("no data-site on /demo");
  return m[1];
}

export async function launchBrowser(extraArgs = []) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: make test installs Debian's chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ...extraArgs,
    ],
  });
}

/**
 * setUp registers the usual hooks of a test file (call it once, at the top
 * level): one headless Chromium for the whole file, launched before the first
 * test, and every server started through server(options) stopped and its
 * data dir removed after the last. Returns { browser, server }: browser is
 * set once the before hook has run (inside tests); server takes
 * startServer's options.
 */
export function setUp() {
  const servers = [];
  const e2e = {
    browser: undefined,
    async server(options) {
      const s = await startServer(options);
      servers.push(s);
      return s;
    },
  };
  before(async () => {
    e2e.browser = await launchBrowser();
  });
  after(async () => {
    await e2e.browser?.close();
    for (const s of servers) {
      await s.stop();
      s.cleanup();
    }
  });
  return e2e;
}

/** Signs in to the agent app in a new context; returns the page. The
 * browser speaks English unless locale says otherwise: the dashboard
 * follows the browser's language (agent-app/src/i18n.ts), and tests find
 * its elements by their English words. */
export async function signInAgent(browser, url, email = ADMIN_EMAIL, password = ADMIN_PASSWORD, locale = "en-US") {
  const ctx = await browser.newContext({ locale });
  const page = await ctx.newPage();
  await page.goto(`${url}/app/`);
  await page.fill("[data-testid=email]", email);
  await page.fill("[data-testid=password]", password);
  await page.click("[data-testid=login]");
  await page.waitForSelector("[data-testid=agent-self]");
  return page;
}

/** Opens the demo page and the widget in a new context; returns {page, frame}. */
export async function openWidget(browser, url) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${url}/demo`);
  await page.click("#parley-launcher");
  const frame = page.frameLocator("#parley-frame");
  await frame.locator("[data-testid=composer]").waitFor();
  return { ctx, page, frame };
}

/** Types and sends a message through a composer. */
export async function send(scope, text) {
  await scope.locator("[data-testid=composer]").fill(text);
  await scope.locator("[data-testid=send]").click();
}

/** Opens, in the agent's inbox, the conversation whose preview shows text.
 * Tests with more than one conversation must not click the first item:
 * a newer conversation may not have reached the inbox yet. */
export async function openChat(agent, text) {
  const item = agent.locator("[data-testid=inbox-item]", { hasText: text }).first();
  await item.waitFor({ timeout: 20_000 });
  await item.click();
}

/** The texts of all messages shown in a scope, in order. */
export async function bodies(scope) {
  return scope.locator("[data-testid=message-body]").allInnerTexts();
}

/** Polls fn until it returns truthy or times out. */
export async function eventually(fn, { timeout = 15_000, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last?.stack ?? JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// Helpers of the routing tests (dashboard API calls, extra agents, widgets
// in a given locale).

/** Calls the JSON API from a signed-in dashboard page (cookie + CSRF). */
export async function call(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = decodeURIComponent(document.cookie.match(/(?:^|; )parley_csrf=([^;]*)/)?.[1] ?? "");
      const res = await fetch(path, {
        method,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: await res.json().catch(() => null) };
    },
    { method, path, body },
  );
}

/** Creates an agent through the admin API and signs it in. */
export async function newAgent(browser, admin, url, name, profile) {
  const email = `${name.toLowerCase()}@e2e.test`;
  const password = "a long enough password";
  const res = await call(admin, "POST", "/api/agents", { email, name, password, ...profile });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const page = await signInAgent(browser, url, email, password);
  await online(page);
  return { page, id: res.json.agent.id };
}

export async function online(page) {
  await page.locator("[data-testid=conn-state][data-state=online]").waitFor();
}

/** Opens the demo page's widget in a browser with the given locale. */
export async function widget(browser, url, locale = "en-US") {
  const ctx = await browser.newContext({ locale });
  const page = await ctx.newPage();
  await page.goto(`${url}/demo`);
  await page.click("#parley-launcher");
  return { ctx, page, frame: page.frameLocator("#parley-frame") };
}

export async function meId(page) {
  return (await call(page, "GET", "/api/me")).json.agent.id;
}
