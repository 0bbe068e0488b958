// Alerts: the AI alerts of the period (`GET /mm-apis/getAIAlerts/{customerId}`, docs/alerts.md) as a strip
// of episodes by severity and a table, filtered by status and severity (the API's own parameters); the
// chosen alert's panel: its metric with the expected band and the anomalous points of its `series`, its
// values in the metric's unit, its impact, its diagnosis as a table of causes (each opening its views), the
// requests that reproduce it, and Acknowledge / Mute, which call the API and show the alert it answers.
// Page state in the URL: `status`, `severity` (the filters) and `alert` (the alert shown; the first by default).

import { chart } from "../charts.js";
import { filterText } from "../filters.js";
import { formatValue } from "../format.js";
import { formatTime } from "../time.js";
import { errorText, h, panel, table, uniqueId } from "../ui.js";
import { params, select } from "./common.js";

const STATUSES = [["", "Any status"], ["open,ongoing", "Not resolved"], ["open", "Open"], ["ongoing", "Ongoing"], ["resolved", "Resolved"]];
const SEVERITIES = [["", "Any severity"], ["critical", "Critical"], ["major", "Major"], ["warning", "Warning"]];
const COLORS = { critical: "#b91c1c", major: "#c2410c", warning: "#a16207" };
const MUTES = [[3600, "Mute 1 h"], [86400, "Mute 24 h"]];

/** `{dimension: value}` as `dim = value ∧ …` (the whole customer when empty). */
const conditionsText = (conditions) =>
  Object.entries(conditions ?? {}).map(([k, v]) => `${k} = ${v}`).join(" ∧ ") || "all views";

/** The Views page of `conditions` over the alert's episode (from its first window to its end or last round). */
function viewsHref(ctx, alert, conditions) {
  const filter = filterText(Object.entries(conditions).map(([field, value]) => ({ field, op: "=", values: [String(value)] })));
  return ctx.pageHref("views", { f: filter || null, range: "custom", from: alert.start - alert.window, to: alert.end ?? alert.lastseen });
}

const unitOf = (ctx, alert) => ctx.metric(alert.metric)?.unit ?? alert.unit;
const chosen = (ctx, alerts) => alerts.find((a) => a.id === ctx.state.alert) ?? alerts[0];

/** A Gantt-like strip: one line per alert from its start to its end (or last round), coloured by severity. */
function timeline(alerts) {
  const names = alerts.map((a) => `${a.label} · ${conditionsText(a.cohort)}`);
  const series = Object.entries(COLORS).map(([severity, color]) => ({
    name: severity,
    type: "line",
    color,
    lineStyle: { width: 10 },
    symbol: "none",
    connectNulls: false,
    data: alerts.flatMap((a, i) => (a.severity === severity ? [[a.start * 1000, i], [(a.end ?? a.lastseen) * 1000, i], [null, null]] : [])),
  }));
  return chart(
    {
      grid: { left: 260, right: 24, top: 28, bottom: 28 },
      legend: { top: 0 },
      tooltip: { trigger: "item", formatter: (p) => `${names[p.value[1]] ?? ""} (${p.seriesName})` },
      xAxis: { type: "time" },
      yAxis: { type: "category", inverse: true, data: names, axisLabel: { width: 250, overflow: "truncate" } },
      series,
    },
    { height: Math.max(120, 26 * alerts.length + 60), label: `The alerts of the period over time by severity: ${alerts.length}` },
  );
}

/** The alert's metric with its expected band (green) and its anomalous points (red). */
function alertChart(alert, unit) {
  const points = alert.series?.points ?? [];
  const at = (p) => p.timestamp * 1000;
  const shown = (v) => formatValue(v, unit);
  return chart(
    {
      grid: { left: 72, right: 16, top: 32, bottom: 28 },
      legend: { top: 0, data: ["expected band", "expected", "observed", "anomalous"] },
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const p = points[items[0]?.dataIndex];
          return p ? `${formatTime(p.timestamp)}<br>observed ${shown(p.value)}<br>expected ${shown(p.expected)} (${shown(p.lower)} – ${shown(p.upper)})` : "";
        },
      },
      xAxis: { type: "time" },
      yAxis: { type: "value", axisLabel: { formatter: shown } },
      series: [
        { name: "expected low", type: "line", stack: "band", symbol: "none", lineStyle: { opacity: 0 }, tooltip: { show: false }, data: points.map((p) => [at(p), p.lower]) },
        { name: "expected band", type: "line", stack: "band", symbol: "none", color: "#86efac", lineStyle: { opacity: 0 }, areaStyle: { color: "#bbf7d0" }, data: points.map((p) => [at(p), p.upper === null || p.lower === null ? null : p.upper - p.lower]) },
        { name: "expected", type: "line", symbol: "none", color: "#15803d", lineStyle: { type: "dashed" }, data: points.map((p) => [at(p), p.expected]) },
        { name: "observed", type: "line", symbol: "none", color: "#1f5fa8", data: points.map((p) => [at(p), p.value]) },
        { name: "anomalous", type: "scatter", color: "#dc2626", symbolSize: 9, data: points.filter((p) => p.anomalous).map((p) => [at(p), p.value]) },
      ],
    },
    { height: 240, label: `${alert.label}: observed, the expected band and ${points.filter((p) => p.anomalous).length} anomalous points` },
  );
}

function causesTable(ctx, alert, unit, request) {
  const causes = alert.diagnosis?.causes ?? [];
  if (!causes.length) {
    return h("p", { class: "diagnosis-none" }, alert.diagnosis?.customerwide ? "No cause stands out: the whole cohort is affected." : "Not diagnosed.");
  }
  const rows = causes.map((c) => ({ ...c, cause: conditionsText(c.conditions) }));
  const columns = [
    { key: "cause", label: "Cause", link: (row) => viewsHref(ctx, alert, row.conditions) },
    { key: "share", label: "Share of the excess", unit: "fraction" },
    { key: "observed", label: "Observed", unit },
    { key: "expected", label: "Expected", unit },
    { key: "views", label: "Views", unit: "count" },
    { key: "viewers", label: "Viewers", unit: "count" },
  ];
  return table({ columns, rows, request, caption: `Diagnosis of ${alert.label}`, filename: "alert-causes.csv" });
}

/** Acknowledge and mute: each calls the API and `update`s the page with the alert it answers. */
function actions(ctx, alert, update) {
  const reasonId = uniqueId("mute-reason");
  const mayMute = ctx.caller?.kind === "user" && ctx.caller?.role === "admin";
  const status = h("span", { class: "action-status", role: "status" });
  const act = (action, body, button) => async () => {
    button.disabled = true;
    status.textContent = "Sending…";
    try {
      update(await ctx.q.alertAction(alert.id, action, body));
    } catch (error) {
      status.textContent = errorText(error);
      button.disabled = false;
    }
  };
  const acknowledge = h("button", { type: "button", class: "alert-action", dataset: { action: "acknowledge" }, disabled: Boolean(alert.acknowledged) }, alert.acknowledged ? "Acknowledged" : "Acknowledge");
  acknowledge.addEventListener("click", act("acknowledge", undefined, acknowledge));
  const mutes = MUTES.map(([seconds, text]) => {
    const button = h("button", { type: "button", class: "alert-action", dataset: { action: "mute", seconds: String(seconds) }, disabled: !mayMute, "aria-describedby": mayMute ? null : reasonId }, text);
    if (mayMute) button.addEventListener("click", act("mute", { seconds }, button));
    return button;
  });
  return h(
    "div",
    { class: "alert-actions" },
    acknowledge,
    mutes,
    mayMute ? null : h("span", { class: "action-reason", id: reasonId }, "Only an admin of the customer may mute an alert."),
    status,
  );
}

function alertPanel(ctx, alert, request, update) {
  const unit = unitOf(ctx, alert);
  const impact = alert.impact ?? {};
  const facts = [
    ["Rule", alert.rule?.name], ["Type", alert.type], ["Cohort", conditionsText(alert.cohort)],
    ["Severity", alert.severity], ["Status", alert.status],
    ["Started", formatTime(alert.start)], ["Last seen", formatTime(alert.lastseen)], ["Ended", alert.end ? formatTime(alert.end) : "not yet"],
    ["Observed", formatValue(alert.observed, unit)], ["Expected", `${formatValue(alert.expected, unit)} (${formatValue(alert.band?.lower, unit)} – ${formatValue(alert.band?.upper, unit)})`],
    ["Impact", `${formatValue(impact.views)} views, ${formatValue(impact.viewers)} viewers, ${formatValue(impact.excess)} in excess`],
    ["Acknowledged", alert.acknowledged ? `by ${alert.acknowledged.by}, ${formatTime(alert.acknowledged.at)}` : "no"],
    ["Muted", alert.muted ? `until ${formatTime(alert.muted.until)}, by ${alert.muted.by}` : "no"],
  ];
  const chartNode = alertChart(alert, unit);
  const node = h(
    "article",
    { class: "alert-detail", id: `alert-${alert.id}`, dataset: { alert: alert.id } },
    h("h3", {}, `${alert.label} · ${conditionsText(alert.cohort)}`),
    actions(ctx, alert, update),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { fact: k.toLowerCase() } }, String(v ?? "—"))])),
    chartNode,
    h("h4", {}, "Diagnosis"),
    causesTable(ctx, alert, unit, request),
    h("h4", {}, "The requests that reproduce it"),
    h(
      "ul",
      { class: "requests" },
      alert.observedquery ? h("li", {}, "Its value over the latest window judged: ", h("code", { dataset: { request: "observedquery" } }, alert.observedquery)) : null,
      h("li", {}, "The metric around it: ", h("code", { dataset: { request: "metricquery" } }, alert.metricquery)),
      h("li", {}, "Its sessions: ", h("code", { dataset: { request: "listsessions" } }, alert.listsessions), " — ", h("a", { href: viewsHref(ctx, alert, alert.cohort ?? {}) }, "open them in Views")),
    ),
  );
  node.drawn = chartNode.drawn;
  return node;
}

/** The list's rows: the API's alerts with the fields the table shows flattened (`impact.views`, …). */
const listRow = (a) => ({
  ...a,
  cohort: conditionsText(a.cohort),
  started: formatTime(a.start),
  until: a.end ? `ended ${formatTime(a.end)}` : `seen ${formatTime(a.lastseen)}`,
  acked: a.acknowledged ? `by ${a.acknowledged.by}` : "—",
  "impact.views": a.impact?.views ?? null,
  "impact.viewers": a.impact?.viewers ?? null,
  "impact.excess": a.impact?.excess ?? null,
});

export async function render(ctx) {
  const status = STATUSES.some(([v]) => v && v === ctx.state.status) ? ctx.state.status : "";
  const severity = SEVERITIES.some(([v]) => v && v === ctx.state.severity) ? ctx.state.severity : "";
  const choices = h(
    "div",
    { class: "page-tools wide" },
    select({ label: "Status", value: status, options: STATUSES, onChange: (v) => ctx.go({ status: v || null, alert: null }), id: "alert-status" }),
    select({ label: "Severity", value: severity, options: SEVERITIES, onChange: (v) => ctx.go({ severity: v || null, alert: null }), id: "alert-severity" }),
  );
  const list = panel(
    "Alerts of the period",
    async ({ actions: panelActions }) => {
      const { url, answer } = await ctx.q.alerts({ period: params(ctx).period, status: status || null, severity: severity || null, limit: 100 });
      const alerts = answer.response;
      if (!alerts.length) return null;
      const node = h("div", { class: "alerts" });
      const draw = () => {
        const current = chosen(ctx, alerts);
        const columns = [
          { key: "label", label: "Metric", link: (row) => ctx.href({ alert: row.id }) },
          { key: "cohort", label: "Cohort" },
          { key: "severity", label: "Severity" },
          { key: "status", label: "Status" },
          { key: "acked", label: "Acknowledged" },
          { key: "started", label: "Started" },
          { key: "until", label: "Last seen or end" },
          { key: "impact.views", label: "Views", unit: "count" },
          { key: "impact.viewers", label: "Viewers", unit: "count" },
          { key: "impact.excess", label: "Excess", unit: "count" },
        ];
        panelActions.replaceChildren();
        const update = (answered) => {
          alerts.splice(alerts.findIndex((a) => a.id === answered.id), 1, answered);
          draw();
        };
        const strip = timeline(alerts);
        const detail = alertPanel(ctx, current, url, update);
        node.replaceChildren(
          strip,
          table({ columns, rows: alerts.map(listRow), request: url, caption: "Alerts", actions: panelActions, filename: "alerts.csv" }),
          detail,
        );
        node.drawn = Promise.all([strip.drawn, detail.drawn]);
      };
      draw();
      if (answer.totalrecords > alerts.length) node.prepend(h("p", { class: "panel-note" }, `The first ${alerts.length} of ${answer.totalrecords} alerts.`));
      return node;
    },
    { wide: true, emptyText: "No alert in this period." },
  );
  return [choices, list];
}
