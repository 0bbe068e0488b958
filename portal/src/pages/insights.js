// Content Insights: the top titles and series by plays and play time, engagement over time, and live vs.
// on-demand.

import { barChart, timeChart } from "../charts.js";
import { withCondition } from "../filters.js";
import { h, notIncluded, panel, table } from "../ui.js";
import { breakdownPanel, params, points } from "./common.js";

const TITLE_COLUMNS = [
  ["assetname", "Title"], ["series", "Series"], ["streamtype", "Type"], ["viewercount", "Plays", "views"],
  ["uniqueviewercount", "Unique viewers", "count"], ["playdur", "Play time", "minutes"], ["playshare", "Share of play time", "percent"],
  ["avgplayminutes", "Minutes per play", "minutes"], ["completionrate", "Completion", "percent"], ["latency", "Start time", "seconds"],
  ["bufferingratio", "Rebuffering", "percent"], ["vsf", "VSF", "percent"],
];

export async function render(ctx) {
  const topTitles = ctx.features.has("smart_query")
    ? panel(
        "Top titles by play time",
        async ({ actions }) => {
          const { url, answer } = await ctx.q.smartQuery(params(ctx, { queryname: "topcontent", limit: 25 }));
          const rows = answer.response;
          if (!rows.length) return null;
          const columns = TITLE_COLUMNS.map(([key, label, unit]) => ({
            key, label, unit, link: key === "assetname" ? (row) => ctx.pageHref("views", { f: withCondition(ctx.state.f, "assetid", row.assetid) }) : undefined,
          }));
          const bars = barChart(rows.slice(0, 10).map((r) => ({ name: r.assetname, value: r.playdur })), "minutes", { label: "Play time of the top 10 titles" });
          const node = h("div", {}, bars, table({ columns, rows, request: url, caption: "Top titles", actions, filename: "top-titles.csv" }));
          node.drawn = bars.drawn;
          return node;
        },
        { wide: true },
      )
    : notIncluded("Top titles", "the top content query", ctx.plan);
  const engagement = panel("Engagement over time", async () => {
    const { url, answer } = await ctx.q.metrics(params(ctx, { metrics: "viewercount,playdur", aggby: "timestamp", granularity: ctx.granularity }));
    if (!answer.response.length) return null;
    const node = timeChart([{ name: "Play time", points: points(answer.response, "playdur") }], "minutes", { label: "Play time over the period" });
    node.dataset.request = url;
    return node;
  });
  const liveVod = panel("Live vs. on demand", async ({ actions }) => {
    const { url, answer } = await ctx.q.metrics(params(ctx, { metrics: "viewercount,uniqueviewercount,playdur,completionrate", aggby: "streamtype" }));
    if (!answer.response.length) return null;
    const columns = [
      { key: "streamtype", label: "Type", link: (row) => ctx.pageHref("views", { f: withCondition(ctx.state.f, "streamtype", row.streamtype) }) },
      { key: "viewercount", label: "Plays", unit: "views" },
      { key: "uniqueviewercount", label: "Unique viewers", unit: "count" },
      { key: "playdur", label: "Play time", unit: "minutes" },
      { key: "completionrate", label: "Completion", unit: "percent" },
    ];
    const bars = barChart(answer.response.map((r) => ({ name: r.streamtype, value: r.playdur })), "minutes", { label: "Play time, live vs. on demand" });
    const node = h("div", {}, bars, table({ columns, rows: answer.response, request: url, caption: "Live vs. on demand", actions, filename: "live-vs-vod.csv" }));
    node.drawn = bars.drawn;
    return node;
  });
  const series = breakdownPanel(ctx, {
    by: "series",
    metrics: ["viewercount", "playdur", "uniqueviewercount", "completionrate"],
    focus: "playdur",
    title: "Top series by plays (films and live channels under (none))",
  });
  return [topTitles, engagement, liveVod, series];
}
