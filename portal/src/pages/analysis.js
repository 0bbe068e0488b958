// Content Analysis: completion by quartile per title, binges of series, new vs. returning viewers over
// time, and the catalogue by genre.

import { chart, timeChart } from "../charts.js";
import { withCondition } from "../filters.js";
import { h, notIncluded, panel, table } from "../ui.js";
import { breakdownPanel, params, points } from "./common.js";

const QUARTILES = [["reached25", "25 %"], ["reached50", "50 %"], ["reached75", "75 %"], ["reached100", "100 %"]];

export async function render(ctx) {
  const genre = breakdownPanel(ctx, { by: "genre", metrics: ["viewercount", "playdur", "completionrate", "latency", "bufferingratio"], focus: "playdur", title: "By genre" });
  if (!ctx.features.has("smart_query")) {
    return [notIncluded("Completion, binges and new viewers", "the named queries of content analysis", ctx.plan), genre];
  }
  const completion = panel(
    "Completion by quartile per title",
    async ({ actions }) => {
      const { url, answer } = await ctx.q.smartQuery(params(ctx, { queryname: "contentengagement", limit: 15 }));
      const rows = answer.response;
      if (!rows.length) return null;
      const bars = chart(
        {
          grid: { left: 170, right: 24, top: 28, bottom: 24 },
          legend: { top: 0 },
          tooltip: { trigger: "axis", valueFormatter: (v) => `${v?.toFixed(1)} %` },
          xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value} %" } },
          yAxis: { type: "category", inverse: true, data: rows.map((r) => r.assetname), axisLabel: { width: 160, overflow: "truncate" } },
          series: QUARTILES.map(([key, label]) => ({ name: `Reached ${label}`, type: "bar", data: rows.map((r) => r[key]) })),
        },
        { height: 40 + rows.length * 44, label: "Share of plays reaching each quartile, per title" },
      );
      const columns = [
        { key: "assetname", label: "Title", link: (row) => ctx.pageHref("views", { f: withCondition(ctx.state.f, "assetid", row.assetid) }) },
        { key: "viewercount", label: "Plays", unit: "views" },
        { key: "avgcompletion", label: "Average reach", unit: "percent" },
        ...QUARTILES.map(([key, label]) => ({ key, label: `Reached ${label}`, unit: "percent" })),
        { key: "dropoff25", label: "Stopped before 25 %", unit: "percent" },
      ];
      const node = h("div", {}, bars, table({ columns, rows, request: url, caption: "Completion by quartile", actions, filename: "completion.csv" }));
      node.drawn = bars.drawn;
      return node;
    },
    { wide: true },
  );
  const newViewers = panel("New and returning viewers", async () => {
    const { url, answer } = await ctx.q.smartQuery(params(ctx, { queryname: "newvsreturning", granularity: ctx.granularity === "auto" ? "auto" : ctx.granularity }));
    if (!answer.response.length) return null;
    const node = timeChart(
      [{ name: "New viewers", points: points(answer.response, "newviewers") }, { name: "Returning viewers", points: points(answer.response, "returningviewers") }],
      "count",
      { label: "New and returning viewers over time", stacked: true },
    );
    node.dataset.request = url;
    return node;
  });
  const binges = panel("Binge-watched series", async ({ actions }) => {
    const { url, answer } = await ctx.q.smartQuery(params(ctx, { queryname: "bingesessions", limit: 20 }));
    if (!answer.response.length) return null;
    const columns = [
      { key: "series", label: "Series", link: (row) => ctx.pageHref("views", { f: withCondition(ctx.state.f, "series", row.series) }) },
      { key: "bingesessions", label: "Binges", unit: "count" },
      { key: "bingers", label: "Bingers", unit: "count" },
      { key: "bingerate", label: "Binge rate", unit: "percent" },
      { key: "avgepisodes", label: "Episodes per binge", unit: "ratio" },
      { key: "playdur", label: "Play time", unit: "minutes" },
    ];
    return table({ columns, rows: answer.response, request: url, caption: "Binge-watched series", actions, filename: "binges.csv" });
  });
  return [completion, newViewers, binges, genre];
}
