// Subscriber Insight: the cohorts (engaged, new, returning, at risk) with their sizes over time, and each
// subscriber's numbers, with a drill-down to that subscriber's views.

import { chart } from "../charts.js";
import { withCondition } from "../filters.js";
import { formatTime } from "../time.js";
import { h, panel, table } from "../ui.js";
import { params, select } from "./common.js";

const COHORTS = [["engaged", "Engaged"], ["new", "New"], ["returning", "Returning"], ["atrisk", "At risk"]];
const SLICES = 6;
const PAGE = 50;

export async function render(ctx) {
  const cohort = COHORTS.some(([key]) => key === ctx.state.cohort) ? ctx.state.cohort : "";
  const offset = Math.max(0, Number(ctx.state.o) || 0);
  const sizes = panel(
    "Cohort sizes over time",
    async () => {
      const length = ctx.period.end - ctx.period.start;
      const step = Math.max(60, Math.floor(length / SLICES / 60) * 60);
      const slices = Array.from({ length: SLICES }, (_, i) => ({ start: ctx.period.start + i * step, end: i === SLICES - 1 ? ctx.period.end : ctx.period.start + (i + 1) * step }));
      const answers = await Promise.all(slices.map((slice) => ctx.q.smartQuery(params(ctx, { queryname: "subscribercohorts" }, slice))));
      const size = (answer, key) => answer.answer.response.find((r) => r.cohort === key)?.subscribers ?? 0;
      if (answers.every((a) => !a.answer.response.length)) return null;
      return chart(
        {
          grid: { left: 56, right: 16, top: 32, bottom: 28 },
          legend: { top: 0 },
          tooltip: { trigger: "axis" },
          xAxis: { type: "category", data: slices.map((s) => formatTime(s.start)) },
          yAxis: { type: "value" },
          series: COHORTS.map(([key, label]) => ({ name: label, type: "bar", stack: "subscribers", data: answers.map((a) => size(a, key)) })),
        },
        { height: 300, label: `Subscribers per cohort in ${SLICES} slices of the period` },
      );
    },
    { wide: true, note: `Each bar: the cohorts of one ${SLICES}th of the period, as subscribercohorts answers for that slice.` },
  );
  const totals = panel("Cohorts of the period", async ({ actions }) => {
    const { url, answer } = await ctx.q.smartQuery(params(ctx, { queryname: "subscribercohorts" }));
    if (!answer.response.length) return null;
    const columns = [
      { key: "cohort", label: "Cohort", link: (row) => ctx.href({ cohort: row.cohort, o: null }) },
      { key: "subscribers", label: "Subscribers", unit: "count" },
      { key: "share", label: "Share", unit: "percent" },
      { key: "playdurpersubscriber", label: "Minutes per subscriber", unit: "minutes" },
      { key: "latency", label: "Start time", unit: "seconds" },
      { key: "bufferingratio", label: "Rebuffering", unit: "percent" },
      { key: "failurerate", label: "Failures", unit: "percent" },
      { key: "poorviewshare", label: "Poor views", unit: "percent" },
    ];
    return table({ columns, rows: answer.response, request: url, caption: "Cohorts", actions, filename: "cohorts.csv" });
  });
  const people = panel(
    cohort ? `Subscribers: ${COHORTS.find(([k]) => k === cohort)[1]}` : "Subscribers",
    async ({ actions }) => {
      const filter = cohort ? `${ctx.state.f ?? ""}[cohort=${cohort}]` : ctx.state.f;
      const { url, answer } = await ctx.q.smartQuery({ ...params(ctx, { queryname: "subscriberinsight", limit: PAGE, offset }), filter });
      if (!answer.response.length) return null;
      const columns = [
        { key: "subscriberid", label: "Subscriber", link: (row) => ctx.pageHref("views", { f: withCondition(ctx.state.f, "subscriberid", row.subscriberid) }) },
        { key: "cohort", label: "Cohort" },
        { key: "subscribertype", label: "Type" },
        { key: "viewercount", label: "Plays", unit: "views" },
        { key: "playdur", label: "Play time", unit: "minutes" },
        { key: "daysactive", label: "Days active", unit: "count" },
        { key: "latency", label: "Start time", unit: "seconds" },
        { key: "bufferingratio", label: "Rebuffering", unit: "percent" },
        { key: "failurerate", label: "Failures", unit: "percent" },
        { key: "engagementtrend", label: "Engagement trend", unit: "percent" },
      ];
      const pages = answer.pagecount;
      const pager = h(
        "div",
        { class: "pager" },
        offset > 0 ? h("a", { href: ctx.href({ o: Math.max(0, offset - PAGE) || null }) }, "Previous page") : null,
        h("span", {}, `Page ${Math.floor(offset / PAGE) + 1} of ${Math.max(1, pages)} (${answer.totalrecords} subscribers)`),
        offset + PAGE < answer.totalrecords ? h("a", { href: ctx.href({ o: offset + PAGE }) }, "Next page") : null,
      );
      return h("div", {}, table({ columns, rows: answer.response, request: url, caption: "Subscribers", actions, filename: "subscribers.csv" }), pager);
    },
    { wide: true },
  );
  const choose = select({
    label: "Cohort",
    value: cohort,
    options: [["", "All cohorts"], ...COHORTS],
    onChange: (v) => ctx.go({ cohort: v, o: null }),
    id: "cohort",
  });
  return [sizes, totals, h("div", { class: "page-tools wide" }, choose), people];
}
