// Alerts: the timeline of detected incidents, each with its chart (the metric, the expected band, the
// points that triggered), its diagnosis, its status and its views. The alerts API
// (`GET /mm-apis/getAIAlerts/{customerId}`, issue 15) answers 404 until it exists: the page then says that
// alerts are not configured. An alert's fields, as issue 15 lists them: id, rule, type, metric, cohort,
// severity, status, start, lastseen, end, observed, expected, band, impact, diagnosis, series (with band and
// triggered points) and the requests that reproduce it.

import { chart } from "../charts.js";
import { ApiError } from "../api.js";
import { filterText } from "../filters.js";
import { formatValue } from "../format.js";
import { formatTime } from "../time.js";
import { h, panel, table } from "../ui.js";
import { params } from "./common.js";

/** The views of an alert's cohort over its window. */
function viewsHref(ctx, alert) {
  const cohort = Object.entries(alert.cohort ?? {}).map(([field, value]) => ({ field, op: "=", values: [String(value)] }));
  return ctx.pageHref("views", { f: filterText(cohort) || null, range: "custom", from: alert.start, to: alert.end ?? alert.lastseen ?? ctx.period.end });
}

/** One alert's chart: its metric, the expected band and the points that triggered. */
function alertChart(alert) {
  const points = alert.series ?? [];
  const ms = (t) => t * 1000;
  return chart(
    {
      grid: { left: 56, right: 16, top: 24, bottom: 28 },
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      xAxis: { type: "time" },
      yAxis: { type: "value", scale: true },
      series: [
        { name: "expected low", type: "line", stack: "band", showSymbol: false, lineStyle: { opacity: 0 }, data: points.map((p) => [ms(p.timestamp), p.lower]) },
        { name: "expected band", type: "line", stack: "band", showSymbol: false, lineStyle: { opacity: 0 }, areaStyle: { color: "#bbf7d0" }, data: points.map((p) => [ms(p.timestamp), p.upper - p.lower]) },
        { name: alert.metric, type: "line", showSymbol: false, data: points.map((p) => [ms(p.timestamp), p.value]) },
        { name: "triggered", type: "scatter", itemStyle: { color: "#b91c1c" }, data: points.filter((p) => p.triggered).map((p) => [ms(p.timestamp), p.value]) },
      ],
    },
    { height: 220, label: `${alert.metric}: observed, expected band and triggered points` },
  );
}

function alertDetail(ctx, alert) {
  const facts = [
    ["Rule", alert.rule], ["Type", alert.type], ["Severity", alert.severity], ["Status", alert.status],
    ["Cohort", Object.entries(alert.cohort ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") || "all views"],
    ["Started", alert.start ? formatTime(alert.start) : "—"], ["Last seen", alert.lastseen ? formatTime(alert.lastseen) : "—"],
    ["Ended", alert.end ? formatTime(alert.end) : "ongoing"],
    ["Observed vs. expected", `${formatValue(alert.observed, "ratio")} vs. ${formatValue(alert.expected, "ratio")}`],
    ["Impact", alert.impact ?? "—"],
  ];
  return h(
    "article",
    { class: "panel wide alert", id: `alert-${alert.id}` },
    h("h2", {}, `${alert.metric} · ${alert.severity ?? ""}`),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v ?? "—"))])),
    alertChart(alert),
    h("h3", {}, "Diagnosis"),
    h("p", {}, typeof alert.diagnosis === "string" ? alert.diagnosis : JSON.stringify(alert.diagnosis ?? "none")),
    h("p", {}, h("a", { href: viewsHref(ctx, alert) }, "The views of this alert")),
    alert.requests?.length
      ? [h("h3", {}, "The requests that reproduce it"), h("ul", {}, alert.requests.map((r) => h("li", {}, h("code", {}, r))))]
      : null,
  );
}

export async function render(ctx) {
  const list = panel(
    "Alerts of the period",
    async ({ actions }) => {
      let result;
      try {
        result = await ctx.q.alerts(params(ctx));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          return h(
            "div",
            { class: "not-configured", dataset: { alerts: "not-configured" } },
            h("p", {}, "Alerts are not configured: this Sightline does not detect incidents yet."),
            h("p", {}, "Once the alerts API answers, each incident appears here with its chart, its diagnosis and its views."),
          );
        }
        throw error;
      }
      const alerts = result.answer.response ?? [];
      if (!alerts.length) return null;
      const columns = [
        { key: "metric", label: "Metric", link: (row) => viewsHref(ctx, row) },
        { key: "severity", label: "Severity" },
        { key: "status", label: "Status" },
        { key: "started", label: "Started" },
        { key: "rule", label: "Rule" },
      ];
      const rows = alerts.map((a) => ({ ...a, started: a.start ? formatTime(a.start) : "—" }));
      const node = h("div", {}, table({ columns, rows, request: result.url, caption: "Alerts", actions, filename: "alerts.csv" }), ...alerts.map((a) => alertDetail(ctx, a)));
      return node;
    },
    { wide: true, emptyText: "No alert in this period." },
  );
  return [list];
}
