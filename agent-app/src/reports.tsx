// Reports (admins and supervisors): how the chats went over a period, in a
// time zone the reader picks — volume per day and per hour of day, how fast
// people answered, resolution, queue wait, missed chats, ratings and what
// the assistant settled alone; per agent, site and team; CSV download. The
// figures are the server's (GET /api/reports, pkg/report); this screen only
// draws them. Charts are uPlot (small, canvas, fast).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { api, errorMessage } from "@parley/shared/http";
import { lang, num, t, tn } from "./i18n";

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

const presets: Record<string, { label: () => string; days: number }> = {
  "7": { label: () => tn("rep.lastDays", 7), days: 7 },
  "30": { label: () => tn("rep.lastDays", 30), days: 30 },
  "90": { label: () => tn("rep.lastDays", 90), days: 90 },
  "365": { label: () => tn("rep.lastMonths", 12), days: 365 },
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

/** unit writes n of a time unit in the reader's language, narrow (4m,
 * 4 min in Spanish), with two digits when asked (05m). */
function unit(n: number, u: "second" | "minute" | "hour" | "day", two = false): string {
  return num(n, { style: "unit", unit: u, unitDisplay: "narrow", minimumIntegerDigits: two ? 2 : 1 });
}

/** dur writes seconds the way people read waits: 42s, 4m 12s, 2h 05m, 3d 4h. */
export function dur(s: number): string {
  s = Math.round(s);
  if (s < 60) return unit(s, "second");
  if (s < 3600) return unit(Math.floor(s / 60), "minute") + " " + unit(s % 60, "second", true);
  if (s < 86400) return unit(Math.floor(s / 3600), "hour") + " " + unit(Math.floor((s % 3600) / 60), "minute", true);
  return unit(Math.floor(s / 86400), "day") + " " + unit(Math.floor((s % 86400) / 3600), "hour");
}

const pct = (f: number) => num(f, { style: "percent", maximumFractionDigits: 0 });
const oneDecimal = (f: number) => num(f, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** money writes a conversion value in its currency (several: just the sum). */
function money(v: number, currencies: string[]): string {
  if (currencies.length === 1) {
    return num(v, { style: "currency", currency: currencies[0], maximumFractionDigits: 0 });
  }
  return num(v, { maximumFractionDigits: 0 });
}

function dayLabel(d: string, long = false): string {
  return new Date(d + "T00:00:00Z").toLocaleDateString(lang, {
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

  const tot = rep?.totals;
  return (
    <section class="pa-reports" aria-label={t("side.reports")} data-testid="reports" data-loading={loading ? "true" : "false"}>
      <header class="pa-rep-head">
        <div>
          <h1>{t("side.reports")}</h1>
          <p class="pa-muted">
            {rep
              ? t("rep.range", { from: dayLabel(rep.from, true), to: dayLabel(rep.to, true), tz: rep.time_zone })
              : t("common.loading")}
          </p>
        </div>
        <div class="pa-rep-actions">
          <a class="pa-btn-outline pa-rep-btn" data-testid="report-csv" href={"/api/reports/csv?" + qs} download>
            {t("rep.csv")}
          </a>
          <button type="button" class="pa-btn-outline pa-rep-btn" data-testid="reports-close" onClick={props.onClose}>
            {t("rep.backToInbox")}
          </button>
        </div>
      </header>
      <div class="pa-rep-filters" role="group" aria-label={t("rep.filters")}>
        <label>
          {t("rep.period")}
          <select data-testid="report-period" value={preset} onChange={(e) => setPreset(e.currentTarget.value)}>
            {Object.entries(presets).map(([k, p]) => (
              <option value={k}>{p.label()}</option>
            ))}
            <option value="custom">{t("rep.custom")}</option>
          </select>
        </label>
        {preset === "custom" && (
          <>
            <label>
              {t("rep.from")}
              <input type="date" data-testid="report-from" value={custom.from || period.from} max={custom.to || undefined}
                onChange={(e) => setCustom({ from: e.currentTarget.value, to: custom.to || period.to })} />
            </label>
            <label>
              {t("rep.to")}
              <input type="date" data-testid="report-to" value={custom.to || period.to} min={custom.from || undefined}
                onChange={(e) => setCustom({ from: custom.from || period.from, to: e.currentTarget.value })} />
            </label>
          </>
        )}
        <label>
          {t("rep.timeZone")}
          <select data-testid="report-tz" value={tz} onChange={(e) => setTz(e.currentTarget.value)}>
            {zones().map((z) => (
              <option value={z}>{z.replace(/_/g, " ")}</option>
            ))}
          </select>
        </label>
        <label>
          {t("rep.site")}
          <select data-testid="report-site" value={site} onChange={(e) => setSite(e.currentTarget.value)}>
            <option value="">{t("rep.allSites")}</option>
            {sites.map((s) => (
              <option value={s.id}>{s.name}</option>
            ))}
          </select>
        </label>
        <label>
          {t("rep.agent")}
          <select data-testid="report-agent" value={agent} onChange={(e) => setAgent(e.currentTarget.value)}>
            <option value="">{t("rep.allAgents")}</option>
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
      {rep && tot && (
        <div class="pa-rep-body">
          <div class="pa-rep-kpis">
            <Kpi label={t("rep.conversations")} value={num(tot.conversations)} note={tn("rep.missedN", tot.missed)} testid="kpi-conversations" />
            <Kpi label={t("rep.firstResponse")} value={tot.first_response.count ? dur(tot.first_response.median) : "—"}
              note={tot.first_response.count ? t("rep.p90", { d: dur(tot.first_response.p90) }) : t("rep.noReplies")} testid="kpi-first-response" />
            <Kpi label={t("rep.responseTime")} value={tot.response.count ? dur(tot.response.median) : "—"}
              note={tot.response.count ? tn("rep.p90Replies", tot.response.count, { d: dur(tot.response.p90) }) : t("rep.noReplies")} testid="kpi-response" />
            <Kpi label={t("rep.resolution")} value={tot.resolution.count ? dur(tot.resolution.median) : "—"}
              note={tot.resolution.count ? t("rep.p90", { d: dur(tot.resolution.p90) }) : t("rep.noneClosed")} testid="kpi-resolution" />
            <Kpi label={t("rep.queueWait")} value={tot.queue_wait.count ? dur(tot.queue_wait.median) : "—"}
              note={tot.queue_wait.count ? t("rep.p90", { d: dur(tot.queue_wait.p90) }) : t("rep.nobodyQueued")} testid="kpi-queue" />
            <Kpi label={t("rep.missedChats")} value={num(tot.missed)}
              note={tot.conversations ? t("rep.ofConversations", { p: pct(tot.missed / tot.conversations) }) : "—"} testid="kpi-missed" tone={tot.missed ? "warn" : undefined} />
            <Kpi label={t("rep.csat")} value={tot.rated ? t("rep.outOf5", { v: oneDecimal(tot.csat_average), max: 5 }) : "—"}
              note={tot.rated ? tn("rep.satisfied", tot.rated, { p: pct(tot.csat_positive) }) : t("rep.noRatings")} testid="kpi-csat" />
            <Kpi label={t("rep.deflection")} value={tot.assisted ? pct(tot.deflection_rate) : "—"}
              note={tot.assisted ? tn("rep.deflected", tot.assisted, { d: num(tot.deflected) }) : t("rep.noAssistant")} testid="kpi-deflection" />
            <Kpi label={t("rep.conversions")} value={num(tot.conversions)}
              note={t("rep.conversionsNote", { p: pct(tot.conversion_rate), v: money(tot.conversion_value, rep.currencies), n: tot.assisted_conversions })}
              testid="kpi-conversions" />
          </div>
          <div class="pa-rep-charts">
            <div class="pa-rep-card pa-rep-wide">
              <h2>{t("rep.perDay")}</h2>
              <DayChart rep={rep} />
            </div>
            <div class="pa-rep-card">
              <h2>{t("rep.byHour")}</h2>
              <HourChart hours={rep.hours} />
            </div>
            <div class="pa-rep-card">
              <h2>{t("rep.responsePerDay")}</h2>
              <ResponseChart rep={rep} />
            </div>
          </div>
          <Table title={t("rep.byAgent")} rows={rep.agents} testid="report-agents" empty={t("rep.noAgent")} />
          <div class="pa-rep-two">
            <Table title={t("rep.bySite")} rows={rep.sites} testid="report-sites" empty={t("rep.noConversations")} compact />
            <Table title={t("rep.byTeam")} rows={rep.teams} testid="report-teams" empty={t("rep.noTeam")} compact />
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
              <th>{t("rep.name")}</th>
              <th class="num">{t("rep.chats")}</th>
              <th class="num">{t("rep.firstResponse")}</th>
              {!props.compact && <th class="num">{t("rep.responseP90Col")}</th>}
              {!props.compact && <th class="num">{t("rep.resolution")}</th>}
              <th class="num">{t("rep.missed")}</th>
              <th class="num">{t("rep.csat")}</th>
              <th class="num">{t("rep.conversions")}</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr data-key={r.key}>
                <td>{r.name || r.key}</td>
                <td class="num">{num(r.conversations)}</td>
                <td class="num">{d(r.first_response)}</td>
                {!props.compact && <td class="num">{r.response.count ? `${dur(r.response.median)} (${dur(r.response.p90)})` : "—"}</td>}
                {!props.compact && <td class="num">{d(r.resolution)}</td>}
                <td class="num">{num(r.missed)}</td>
                <td class="num">{r.rated ? oneDecimal(r.csat_average) : "—"}</td>
                <td class="num">{r.conversions ? `${num(r.conversions)} (${pct(r.conversion_rate)})` : "—"}</td>
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
          { label: t("rep.day"), value: (_u, i) => (i == null ? "" : labels[i] ?? "") },
          { label: t("rep.conversations"), fill: BLUE + "cc", stroke: BLUE, width: 0, paths: bars({ size: [0.7, 28] }), points: { show: false } },
          { label: t("rep.missed"), fill: RED + "cc", stroke: RED, width: 0, paths: bars({ size: [0.35, 14], align: 1 }), points: { show: false } },
        ],
      })}
    />
  );
}

function HourChart({ hours }: { hours: number[] }) {
  const data = useMemo<uPlot.AlignedData>(() => [hours.map((_, i) => i), hours], [hours]);
  const labels = hours.map((_, h) => num(h, { minimumIntegerDigits: 2 }) + ":" + num(0, { minimumIntegerDigits: 2 }));
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
          { label: t("rep.hour"), value: (_u, i) => (i == null ? "" : labels[i] ?? "") },
          { label: t("rep.conversations"), fill: BLUE + "b3", stroke: BLUE, width: 0, paths: bars({ size: [0.7, 24] }), points: { show: false } },
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
        axes: [indexAxis(labels), { ...AXIS, size: 48, values: (_u, s) => s.map((v) => unit(v, "minute")) }],
        series: [
          { label: t("rep.day"), value: (_u, i) => (i == null ? "" : labels[i] ?? "") },
          { label: t("rep.firstResponse"), stroke: BLUE, width: 2, value: minutes, points: { size: 5 } },
          { label: t("rep.response"), stroke: AMBER, width: 2, value: minutes, points: { size: 5 } },
          { label: t("rep.responseP90"), stroke: AMBER, width: 1, dash: [4, 4], value: minutes, points: { show: false } },
        ],
      })}
    />
  );
}
