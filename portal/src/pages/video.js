// Video Experience: startup, start failures, rebuffering, playback failures and bitrate over time (one chart
// per metric family), and every QoE metric broken down by any dimension.

import { h } from "../ui.js";
import { breakdownPanel, select, seriesPanels } from "./common.js";

const FAMILIES = [
  { title: "Video start time", metrics: ["latency", "median_latency", "p95_latency"], unit: "seconds" },
  { title: "Start failures and exits before start", metrics: ["vsf", "ebvs"], unit: "percent" },
  { title: "Rebuffering ratio", metrics: ["bufferingratio"], unit: "percent" },
  { title: "Playback failures", metrics: ["vpf"], unit: "percent" },
  { title: "Average bitrate", metrics: ["avgbitrate"], unit: "kbps" },
];
const BREAKDOWN = ["attempts", "viewercount", "latency", "vsf", "ebvs", "bufferingratio", "rebufferfrequency", "vpf", "avgbitrate"];

export async function render(ctx) {
  const by = ctx.state.by ?? "cdn";
  const focus = BREAKDOWN.includes(ctx.state.m) ? ctx.state.m : "latency";
  const choose = [
    select({ label: "Break down by", value: by, options: ctx.dimensionNames.map((d) => [d, d]), onChange: (v) => ctx.go({ by: v }), id: "breakdown-by" }),
    select({ label: "Chart", value: focus, options: BREAKDOWN.map((m) => [m, ctx.metric(m).label]), onChange: (v) => ctx.go({ m: v }), id: "breakdown-metric" }),
  ];
  const breakdown = breakdownPanel(ctx, { by, metrics: BREAKDOWN, focus, title: `Experience by ${by}` });
  return [...seriesPanels(ctx, FAMILIES), h("div", { class: "page-tools wide" }, choose), breakdown];
}
