// Reports, as an owner reads them: a live chat today plus a generated month
// of past chats (e2e/reportseed: chats cannot be backdated live); the admin
// opens Reports, reads the figures and charts, switches time zone,
// agent and team, and downloads the CSV.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setUp, signInAgent, openWidget, send, openChat, eventually, call, newAgent } from "./harness.mjs";

const e2e = setUp();
const shots = process.env.PARLEY_SCREENSHOTS ?? "/tmp";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SEEDED = 900;

test("an admin reads the month's report with charts, filters by zone, agent and team, and downloads it as CSV", async () => {
  const server = await e2e.server();
  const admin = await signInAgent(e2e.browser, server.url);
  await admin.setViewportSize({ width: 1440, height: 1000 });
  await admin.locator("[data-testid=conn-state][data-state=online]").waitFor();
  const maya = await newAgent(e2e.browser, admin, server.url, "Maya", {});
  assert.equal((await call(admin, "POST", "/api/agents", { email: "tom@e2e.test", name: "Tom", password: "a long enough password" })).status, 201);
  await maya.page.context().close(); // Maya is offline: today's chat goes to the admin

  // Today's live chat, answered by the admin.
  const visitor = await openWidget(e2e.browser, server.url);
  await send(visitor.frame, "Hi, where is my order?");
  await openChat(admin, "where is my order");
  await send(admin, "It left our warehouse this morning.");
  await visitor.frame.locator("[data-testid=message-body]", { hasText: "It left our warehouse" }).waitFor();

  // The last 29 days before today, straight into the database.
  execFileSync("go", ["run", "./e2e/reportseed", "-db", join(server.dataDir, "parley.db"), "-days", "29", "-n", String(SEEDED)], {
    cwd: root,
    stdio: "inherit",
  });

  await admin.getByRole("button", { name: "Reports", exact: true }).click();
  const page = admin.locator("[data-testid=reports]");
  await page.waitFor();
  await admin.getByLabel("Time zone").selectOption("UTC");
  const loaded = () => admin.locator("[data-testid=reports][data-loading=false]").waitFor();
  const kpi = (id) => admin.locator(`[data-testid=kpi-${id}] .pa-rep-kpi-value`).innerText();
  await loaded();
  await eventually(async () => (await kpi("conversations")) === String(SEEDED + 1), { what: "the month's conversations" });
  assert.match(await kpi("first-response"), /^\d+(s|m \d\ds)$/);
  assert.match(await kpi("csat"), /^[1-5]\.\d \/ 5$/);
  assert.match(await kpi("deflection"), /^\d+%$/);
  assert.ok(Number(await kpi("missed")) > 0);
  assert.ok(Number(await kpi("conversions")) > 0);
  // Three charts drawn (uPlot canvases), and a row per agent who chatted.
  for (const id of ["chart-days", "chart-hours", "chart-response"]) {
    await admin.locator(`[data-testid=${id}] canvas`).first().waitFor();
  }
  const agentRows = admin.locator("[data-testid=report-agents] tbody tr");
  assert.equal(await agentRows.count(), 3);
  await admin.screenshot({ path: `${shots}/reports-month.png` });
  await page.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await admin.screenshot({ path: `${shots}/reports-tables.png` });

  // Another zone: the same chats, on other days and hours.
  await admin.getByLabel("Time zone").selectOption("Pacific/Auckland");
  await loaded();
  await eventually(async () => (await admin.locator("[data-testid=reports] .pa-rep-head p").innerText()).includes("Pacific/Auckland"), {
    what: "the Auckland report",
  });

  // One agent: Tom's conversations only.
  await admin.getByLabel("Time zone").selectOption("UTC");
  await admin.getByLabel("Agent").selectOption({ label: "Tom" });
  await loaded();
  await eventually(async () => (await agentRows.count()) === 1 && (await agentRows.first().innerText()).startsWith("Tom"), {
    what: "Tom's report",
  });
  const tomChats = Number(await kpi("conversations"));
  assert.ok(tomChats > 0 && tomChats < SEEDED / 2, `Tom had ${tomChats}`);
  await admin.screenshot({ path: `${shots}/reports-agent.png` });

  // One team: the sales team's conversations, of every agent.
  await admin.getByLabel("Agent").selectOption({ label: "All agents" });
  await admin.getByTestId("report-team").selectOption("sales");
  await loaded();
  const teamRows = admin.locator("[data-testid=report-teams] tbody tr");
  await eventually(async () => (await teamRows.count()) === 1 && (await teamRows.first().innerText()).startsWith("sales"), {
    what: "the sales team's report",
  });
  const salesChats = Number(await kpi("conversations"));
  assert.ok(salesChats > 0 && salesChats < SEEDED / 2, `sales had ${salesChats}`);
  await admin.getByTestId("report-team").selectOption("");
  await admin.getByLabel("Agent").selectOption({ label: "Tom" });
  await loaded();
  await eventually(async () => Number(await kpi("conversations")) === tomChats, { what: "Tom's report again" });

  // CSV: the figures the page shows.
  const [download] = await Promise.all([admin.waitForEvent("download"), admin.getByTestId("report-csv").click()]);
  const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
  assert.match(csv[0], /^group,key,name,conversations,first_response_median_s/);
  assert.equal(csv[1].split(",")[3], String(tomChats));
  assert.equal(csv.filter((l) => l.startsWith("day,")).length, 30);

  // Back to the inbox.
  await admin.getByTestId("reports-close").click();
  await admin.locator("[data-testid=inbox-item]").first().waitFor();
});
