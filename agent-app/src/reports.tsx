// Reports (admins and supervisors): how the chats went over a period, in a
// time zone the reader picks — volume per day and per hour of day, how fast
// people answered, resolution, queue wait, missed chats, ratings and what
// the assistant settled alone; per agent, site and team; CSV download. The
// figures are the server's (GET /api/reports, pkg/report); this screen only
// draws them. Charts are uPlot (small, canvas, fast).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { api, errorMessage } from "@parley/shared/http";
import { t } from "./i18n";

interface Durations {
  count: number;
  median: number;
  p90: number;
}

interface Metrics {
  conversations: number;
  first_response: Durations;
  response: Durations;
  resolution: Durations;
  queue_wait: Durations;
  missed: number;
  rated: number;
  csat_average: number;
  csat_positive: number;
  assisted: number;
  deflected: number;
  deflection_rate: number;
  conversions: number;
  conversion_value: number;
  conversion_rate: number;
  assisted_conversions: number;
}

interface Row extends Metrics {
  key: string;
  name: string;
}

interface Report {
  from: string;
  to: string;
  time_zone: string;
  totals: Metrics;
  days: Row[];
  hours: number[];
  sites: Row[];
  teams: Row[];
  agents: Row[];
  currencies: string[];
}

interface Named {
  id: string;
  name: string;
}

/** ReportsButton opens the reports page. */
export function ReportsButton(props: { onOpen: () => void }) {
  return (
    <button type="button" class="pa-btn-ghost" data-testid="open-reports" onClick={props.onOpen}>
      {t("side.reports")}
    </button>
  );
}

const presets: Record<string, { label: string; days: number }> = {
  "7": { label: "Last 7 days", days: 7 },
  "30": { label: "Last 30 days", days: 30 },
  "90": { label: "Last 90 days", days: 90 },
  "365": { label: "Last 12 months", days: 365 },
};

/** today is the date (YYYY-MM-DD) it is now in tz. */
function today(tz: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

function addDays(date: string, n: number): string {
  const d = new Date(date + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function zones(): string[] {
  const f = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
  const list = f ? f("timeZone") : [];
  return list.includes("UTC") ? list : ["UTC", ...list];
}

/** dur writes seconds the way people read waits: 42s, 4m 12s, 2h 05m, 3d 4h. */
export function dur(s: number): string {
  s = Math.round(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

const pct = (f: number) => Math.round(f * 100) + "%";

/** money writes a conversion value in its currency (several: just the sum). */
function money(v: number, currencies: string[]): string {
  if (currencies.length === 1) {
    return new Intl.NumberFormat("en", { style: "currency", currency: currencies[0], maximumFractionDigits: 0 }).format(v);
  }
  return new Intl.NumberFormat("en", { maximumFractionDigits: 0 }).format(v);
}

function dayLabel(d: string, long = false): string {
  return new Date(d + "T00:00:00Z").toLocaleDateString("en", {
    timeZone: "UTC",
    month: "short",
    day: "numeric",
    ...(long ? { year: "numeric" } : {}),
  });
}

// TeamFilter chooses one team's conversations (outside ReportsPage, whose
// `t` is the totals).
function TeamFilter(props: { teams: string[]; value: string; onChange: (team: string) => void }) {
  return (
    <label>
      {t("rteam.label")}
      <select data-testid="report-team" value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">{t("rteam.all")}</option>
        {props.teams.map((name) => (
          <option value={name}>{name}</option>
        ))}
      </select>
    </label>
  );
}

export function ReportsPage(props: { onClose: () => void }) {
  const [tz, setTz] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [preset, setPreset] = useState("30");
  const [custom, setCustom] = useState({ from: "", to: "" });
  const [site, setSite] = useState("");
  const [agent, setAgent] = useState("");
  const [team, setTeam] = useState("");
  const [sites, setSites] = useState<Named[]>([]);
  const [agents, setAgents] = useState<(Named & { teams: string[] })[]>([]);
  const [rep, setRep] = useState<Report | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    api<{ sites: Named[] }>("GET", "/api/sites").then((x) => setSites(x.sites), () => {});
    api<{ agents: (Named & { teams: string[] })[] }>("GET", "/api/agents").then((x) => setAgents(x.agents), () => {});
  }, []);

  const period = useMemo(() => {
    if (preset === "custom" && custom.from && custom.to) return custom;
    const to = today(tz);
    return { from: addDays(to, -((presets[preset]?.days ?? 30) - 1)), to };
  }, [preset, custom, tz]);

  const query = new URLSearchParams({ from: period.from, to: period.to, tz });
  if (site) query.set("site", site);
  if (agent) query.set("agent", agent);
  if (team) query.set("team", team);
  // The teams agents are in and those the report shows (a conversation
  // keeps its team when its agents leave it).
  const teams = [...new Set([...agents.flatMap((a) => a.teams), ...(rep?.teams ?? []).map((r) => r.key), ...(team ? [team] : [])])].sort();
  const qs = query.toString();

  useEffect(() => {
    let live = true;
    setLoading(true);
    api<Report>("GET", "/api/reports?" + qs).then(
      (r) => {
        if (!live) return;
        setRep(r);
        setError("");
        setLoading(false);
      },
      (e) => {
        if (!live) return;
        setError(errorMessage(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [qs]);

  const t = rep?.totals;
  return (
    <section class="pa-reports" aria-label="Reports" data-testid="reports" data-loading={loading ? "true" : "false"}>
      <header class="pa-rep-head">
        <div>
          <h1>Reports</h1>
          <p class="pa-muted">
            {rep
              ? `Conversations started ${dayLabel(rep.from, true)} – ${dayLabel(rep.to, true)} · ${rep.time_zone}`
              : "Loading…"}
          </p>
        </div>
        <div class="pa-rep-actions">
          <a class="pa-btn-outline pa-rep-btn" data-testid="report-csv" href={"/api/reports/csv?" + qs} download>
            Download CSV
          </a>
          <button type="button" class="pa-btn-outline pa-rep-btn" data-testid="reports-close" onClick={props.onClose}>
            Back to inbox
          </button>
        </div>
      </header>
      <div class="pa-rep-filters" role="group" aria-label="Filters">
        <label>
          Period
          <select data-testid="report-period" value={preset} onChange={(e) => setPreset(e.currentTarget.value)}>
            {Object.entries(presets).map(([k, p]) => (
              <option value={k}>{p.label}</option>
            ))}
            <option value="custom">Custom…</option>
          </select>
        </label>
        {preset === "custom" && (
          <>
            <label>
              From
              <input type="date" data-testid="report-from" value={custom.from || period.from} max={custom.to || undefined}
                onChange={(e) => setCustom({ from: e.currentTarget.value, to: custom.to || period.to })} />
            </label>
            <label>
              To
              <input type="date" data-testid="report-to" value={custom.to || period.to} min={custom.from || undefined}
                onChange={(e) => setCustom({ from: custom.from || period.from, to: e.currentTarget.value })} />
            </label>
          </>
        )}
        <label>
          Time zone
          <select data-testid="report-tz" value={tz} onChange={(e) => setTz(e.currentTarget.value)}>
            {zones().map((z) => (
              <option value={z}>{z.replace(/_/g, " ")}</option>
            ))}
          </select>
        </label>
        <label>
          Site
          <select data-testid="report-site" value={site} onChange={(e) => setSite(e.currentTarget.value)}>
            <option value="">All sites</option>
            {sites.map((s) => (
              <option value={s.id}>{s.name}</option>
            ))}
          </select>
        </label>
        <label>
          Agent
          <select data-testid="report-agent" value={agent} onChange={(e) => setAgent(e.currentTarget.value)}>
            <option value="">All agents</option>
            {agents.map((a) => (
              <option value={a.id}>{a.name}</option>
            ))}
          </select>
        </label>
        <TeamFilter teams={teams} value={team} onChange={setTeam} />
      </div>
      {error && (
        <p class="pa-rep-error" role="alert" data-testid="report-error">
          {error}
        </p>
      )}
      {rep && t && (
        <div class="pa-rep-body">
          <div class="pa-rep-kpis">
            <Kpi label="Conversations" value={String(t.conversations)} note={`${t.missed} missed`} testid="kpi-conversations" />
            <Kpi label="First response" value={t.first_response.count ? dur(t.first_response.median) : "—"}
              note={t.first_response.count ? `p90 ${dur(t.first_response.p90)}` : "no replies yet"} testid="kpi-first-response" />
            <Kpi label="Response time" value={t.response.count ? dur(t.response.median) : "—"}
              note={t.response.count ? `p90 ${dur(t.response.p90)} · ${t.response.count} replies` : "no replies yet"} testid="kpi-response" />
            <Kpi label="Resolution" value={t.resolution.count ? dur(t.resolution.median) : "—"}
              note={t.resolution.count ? `p90 ${dur(t.resolution.p90)}` : "none closed"} testid="kpi-resolution" />
            <Kpi label="Queue wait" value={t.queue_wait.count ? dur(t.queue_wait.median) : "—"}
              note={t.queue_wait.count ? `p90 ${dur(t.queue_wait.p90)}` : "nobody queued"} testid="kpi-queue" />
            <Kpi label="Missed chats" value={String(t.missed)}
              note={t.conversations ? pct(t.missed / t.conversations) + " of conversations" : "—"} testid="kpi-missed" tone={t.missed ? "warn" : undefined} />
            <Kpi label="CSAT" value={t.rated ? t.csat_average.toFixed(1) + " / 5" : "—"}
              note={t.rated ? `${pct(t.csat_positive)} satisfied · ${t.rated} rated` : "no ratings"} testid="kpi-csat" />
            <Kpi label="Assistant deflection" value={t.assisted ? pct(t.deflection_rate) : "—"}
              note={t.assisted ? `${t.deflected} of ${t.assisted} without a person` : "assistant not used"} testid="kpi-deflection" />
            <Kpi label="Conversions" value={String(t.conversions)}
              note={`${pct(t.conversion_rate)} of chats · ${money(t.conversion_value, rep.currencies)} · ${t.assisted_conversions} after the assistant`}
              testid="kpi-conversions" />
          </div>
          <div class="pa-rep-charts">
            <div class="pa-rep-card pa-rep-wide">
              <h2>Conversations per day</h2>
              <DayChart rep={rep} />
            </div>
            <div class="pa-rep-card">
              <h2>By hour of day</h2>
              <HourChart hours={rep.hours} />
            </div>
            <div class="pa-rep-card">
              <h2>Response times per day</h2>
              <ResponseChart rep={rep} />
            </div>
          </div>
          <Table title="By agent" rows={rep.agents} testid="report-agents" empty="No agent had a conversation in this period." />
          <div class="pa-rep-two">
            <Table title="By site" rows={rep.sites} testid="report-sites" empty="No conversations." compact />
            <Table title="By team" rows={rep.teams} testid="report-teams" empty="No team-routed conversations." compact />
          </div>
        </div>
      )}
    </section>
  );
}

function Kpi(props: { label: string; value: string; note: string; testid: string; tone?: "warn" }) {
  return (
    <div class={"pa-rep-kpi" + (props.tone ? " pa-rep-kpi-" + props.tone : "")} data-testid={props.testid}>
      <span class="pa-rep-kpi-label">{props.label}</span>
      <strong class="pa-rep-kpi-value">{props.value}</strong>
      <span class="pa-rep-kpi-note">{props.note}</span>
    </div>
  );
}

function Table(props: { title: string; rows: Row[]; testid: string; empty: string; compact?: boolean }) {
  const d = (x: Durations) => (x.count ? dur(x.median) : "—");
  return (
    <div class="pa-rep-card">
      <h2>{props.title}</h2>
      {props.rows.length === 0 ? (
        <p class="pa-muted">{props.empty}</p>
      ) : (
        <table class="pa-rep-table" data-testid={props.testid}>
          <thead>
            <tr>
              <th>Name</th>
              <th class="num">Chats</th>
              <th class="num">First response</th>
              {!props.compact && <th class="num">Response (p90)</th>}
              {!props.compact && <th class="num">Resolution</th>}
              <th class="num">Missed</th>
              <th class="num">CSAT</th>
              <th class="num">Conversions</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr data-key={r.key}>
                <td>{r.name || r.key}</td>
                <td class="num">{r.conversations}</td>
                <td class="num">{d(r.first_response)}</td>
                {!props.compact && <td class="num">{r.response.count ? `${dur(r.response.median)} (${dur(r.response.p90)})` : "—"}</td>}
                {!props.compact && <td class="num">{d(r.resolution)}</td>}
                <td class="num">{r.missed}</td>
                <td class="num">{r.rated ? r.csat_average.toFixed(1) : "—"}</td>
                <td class="num">{r.conversions ? `${r.conversions} (${pct(r.conversion_rate)})` : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

// The charts' colours, from the dashboard's palette.
const BLUE = "#2563eb";
const RED = "#dc2626";
const AMBER = "#d97706";
const GRID = { stroke: "#eef0f3", width: 1 };
const AXIS = { stroke: "#667085", grid: GRID, ticks: { show: false }, font: "11px system-ui, sans-serif" };

/** Chart draws a uPlot chart that fills its box's width. */
function Chart(props: { opts: (width: number) => uPlot.Options; data: uPlot.AlignedData; testid: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const plot = new uPlot(props.opts(el.clientWidth || 600), props.data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: props.height ?? 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [props.data]);
  return <div class="pa-rep-chart" ref={box} data-testid={props.testid} />;
}

const bars = uPlot.paths.bars!;

/** indexAxis labels an index x axis with names, thinned to fit. */
function indexAxis(labels: string[]): uPlot.Axis {
  return {
    ...AXIS,
    space: 48,
    values: (_u, splits) => splits.map((i) => (Number.isInteger(i) && labels[i] !== undefined ? labels[i] : "")),
  };
}

function DayChart({ rep }: { rep: Report }) {
  const data = useMemo<uPlot.AlignedData>(
    () => [rep.days.map((_, i) => i), rep.days.map((d) => d.conversations), rep.days.map((d) => d.missed)],
    [rep],
  );
  const labels = rep.days.map((d) => dayLabel(d.key));
  return (
    <Chart
      testid="chart-days"
      data={data}
      opts={(width) => ({
        width,
        height: 220,
        legend: { show: true },
        cursor: { points: { show: false } },
        scales: { x: { time: false, range: (_u, min, max) => [min - 0.6, max + 0.6] }, y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.15)] } },
        axes: [indexAxis(labels), { ...AXIS, size: 40 }],
        series: [
          { label: "Day", value: (_u, i) => (i == null ? "" : labels[i] ?? "") },
          { label: "Conversations", fill: BLUE + "cc", stroke: BLUE, width: 0, paths: bars({ size: [0.7, 28] }), points: { show: false } },
          { label: "Missed", fill: RED + "cc", stroke: RED, width: 0, paths: bars({ size: [0.35, 14], align: 1 }), points: { show: false } },
        ],
      })}
    />
  );
}

function HourChart({ hours }: { hours: number[] }) {
  const data = useMemo<uPlot.AlignedData>(() => [hours.map((_, i) => i), hours], [hours]);
  const labels = hours.map((_, h) => String(h).padStart(2, "0") + ":00");
  return (
    <Chart
      testid="chart-hours"
      data={data}
      opts={(width) => ({
        width,
        height: 220,
        cursor: { points: { show: false } },
        scales: { x: { time: false, range: () => [-0.6, 23.6] }, y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.15)] } },
        axes: [{ ...AXIS, splits: () => [0, 3, 6, 9, 12, 15, 18, 21], values: (_u, s) => s.map((i) => labels[i] ?? "") }, { ...AXIS, size: 40 }],
        series: [
          { label: "Hour", value: (_u, i) => (i == null ? "" : labels[i] ?? "") },
          { label: "Conversations", fill: BLUE + "b3", stroke: BLUE, width: 0, paths: bars({ size: [0.7, 24] }), points: { show: false } },
        ],
      })}
    />
  );
}

function ResponseChart({ rep }: { rep: Report }) {
  // Minutes, and gaps (null) on days nobody answered.
  const m = (x: Durations) => (x.count ? Math.round((x.median / 60) * 10) / 10 : null);
  const p = (x: Durations) => (x.count ? Math.round((x.p90 / 60) * 10) / 10 : null);
  const data = useMemo<uPlot.AlignedData>(
    () => [rep.days.map((_, i) => i), rep.days.map((d) => m(d.first_response)), rep.days.map((d) => m(d.response)), rep.days.map((d) => p(d.response))],
    [rep],
  );
  const labels = rep.days.map((d) => dayLabel(d.key));
  const minutes = (_u: uPlot, v: number | null) => (v == null ? "—" : dur(v * 60));
  return (
    <Chart
      testid="chart-response"
      data={data}
      opts={(width) => ({
        width,
        height: 220,
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [indexAxis(labels), { ...AXIS, size: 48, values: (_u, s) => s.map((v) => v + "m") }],
        series: [
          { label: "Day", value: (_u, i) => (i == null ? "" : labels[i] ?? "") },
          { label: "First response", stroke: BLUE, width: 2, value: minutes, points: { size: 5 } },
          { label: "Response", stroke: AMBER, width: 2, value: minutes, points: { size: 5 } },
          { label: "Response p90", stroke: AMBER, width: 1, dash: [4, 4], value: minutes, points: { show: false } },
        ],
      })}
    />
  );
}
