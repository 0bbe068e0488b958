// Error Heatmap: error codes × any dimension or × time, with counts and rates; a cell opens the views
// that error ended there.

import { chart } from "../charts.js";
import { escapeHtml, formatValue } from "../format.js";
import { withCondition } from "../filters.js";
import { formatTime } from "../time.js";
import { h, panel, table } from "../ui.js";
import { params, select } from "./common.js";

const METRICS = [
  ["fatalerrors", "Fatal errors", "count"],
  ["errors", "Errors", "count"],
  ["affectedviews", "Views affected", "views"],
  ["errorrate", "Error rate", "percent"],
  ["fatalerrorrate", "Fatal error rate", "percent"],
];

export async function render(ctx) {
  const by = ctx.state.hm === "timestamp" || ctx.dimensionNames.includes(ctx.state.hm) ? ctx.state.hm : "timestamp";
  const metric = METRICS.find(([key]) => key === ctx.state.hmm) ?? METRICS[0];
  const [key, label, unit] = metric;
  const metrics = [...new Set([key, "fatalerrors", "errors", "affectedviews", "errorrate"])];
  const answer = ctx.q.errors(params(ctx, { metrics: metrics.join(","), heatmap: by, ...(by === "timestamp" ? { granularity: ctx.granularity } : { columnlimit: 30 }), limit: 20, orderby: key }));
  const column = (value) => (by === "timestamp" ? formatTime(value) : value === "" ? "(none)" : String(value));
  /** The views behind a cell: the views this code ended, in the column's value or its time bucket. */
  const cellHref = (code, value, heat) => {
    const f = withCondition(ctx.state.f, "errorcode", code);
    if (by !== "timestamp") return ctx.pageHref("views", { f: withCondition(f, by, value) });
    const labels = heat.columnlabels;
    const i = labels.indexOf(value);
    const end = i + 1 < labels.length ? labels[i + 1] : value + (labels.length > 1 ? labels[1] - labels[0] : 3600);
    return ctx.pageHref("views", { f, range: "custom", from: value, to: Math.min(end, ctx.period.end), st: "ended" });
  };
  const map = panel(
    `Error codes × ${by === "timestamp" ? "time" : by}: ${label}`,
    async () => {
      const { url, answer: a } = await answer;
      const heat = a.heatmap;
      const rows = a.response;
      if (!rows.length || !heat.columnlabels.length) return null;
      const data = [];
      rows.forEach((row, y) => row.cells[key].forEach((value, x) => data.push([x, y, value])));
      const node = chart(
        {
          grid: { left: 190, right: 24, top: 12, bottom: 90 },
          tooltip: {
            formatter: (p) => escapeHtml(`${rows[p.value[1]].errorcode} · ${column(heat.columnlabels[p.value[0]])}: ${formatValue(p.value[2], unit)}`),
          },
          xAxis: { type: "category", data: heat.columnlabels.map(column), axisLabel: { rotate: 45, width: 90, overflow: "truncate" } },
          yAxis: { type: "category", inverse: true, data: rows.map((r) => r.errorcode), axisLabel: { width: 180, overflow: "truncate" } },
          visualMap: { min: 0, max: heat.max[key] || 1, calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#f8fafc", "#fdba74", "#b91c1c"] } },
          series: [{ type: "heatmap", data, emphasis: { itemStyle: { borderColor: "#111", borderWidth: 1 } } }],
        },
        {
          height: Math.max(260, 26 * rows.length + 120),
          label: `Heatmap of ${label} by error code and ${by}`,
          onClick: (p) => {
            const href = cellHref(rows[p.value[1]].errorcode, heat.columnlabels[p.value[0]], heat);
            document.dispatchEvent(new CustomEvent("portal:navigate", { detail: href }));
          },
        },
      );
      node.dataset.request = url;
      return node;
    },
    { wide: true },
  );
  const hottest = panel("Hottest cells", async ({ actions }) => {
    const { url, answer: a } = await answer;
    const heat = a.heatmap;
    const rows = heat.hottest.map((cell) => ({ ...cell, column: column(cell[by]) }));
    if (!rows.length) return null;
    const columns = [
      { key: "errorcode", label: "Error code", link: (row) => cellHref(row.errorcode, row[by], heat) },
      { key: "column", label: by === "timestamp" ? "Time" : by },
      { key, label, unit },
    ];
    return table({ columns, rows, request: url, caption: "Hottest cells", actions, filename: "hottest-cells.csv" });
  });
  const codes = panel("Error codes", async ({ actions }) => {
    const { url, answer: a } = await answer;
    if (!a.response.length) return null;
    const columns = [
      { key: "errorcode", label: "Error code", link: (row) => ctx.pageHref("views", { f: withCondition(ctx.state.f, "errorcode", row.errorcode) }) },
      ...metrics.map((m) => {
        const spec = METRICS.find(([k]) => k === m);
        return { key: m, label: spec[1], unit: spec[2] };
      }),
    ];
    return table({ columns, rows: a.response, request: url, caption: "Error codes", actions, filename: "error-codes.csv" });
  });
  const tools = h(
    "div",
    { class: "page-tools wide" },
    select({ label: "Columns", value: by, options: [["timestamp", "time"], ...ctx.dimensionNames.map((d) => [d, d])], onChange: (v) => ctx.go({ hm: v }), id: "heatmap-by" }),
    select({ label: "Value", value: key, options: METRICS.map(([k, l]) => [k, l]), onChange: (v) => ctx.go({ hmm: v }), id: "heatmap-metric" }),
    h("span", { class: "panel-note" }, "A cell opens the views that its code ended there."),
  );
  return [tools, map, hottest, codes];
}
