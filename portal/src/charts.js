// Apache ECharts, with only the charts and components the portal draws (tree-shaken by the bundler).
// Every chart describes itself to screen readers (ECharts' aria), draws without animation, and resolves
// `drawn` once its first frame is rendered.

import { BarChart, HeatmapChart, LineChart, SankeyChart, ScatterChart } from "echarts/charts";
import {
  AriaComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { formatValue } from "./format.js";
import { h, onLeave } from "./ui.js";

echarts.use([
  BarChart, HeatmapChart, LineChart, SankeyChart, ScatterChart, AriaComponent, GridComponent, LegendComponent,
  TooltipComponent, VisualMapComponent, CanvasRenderer,
]);

export const PALETTE = ["#1f5fa8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#4b5563"];
const charts = new Set();

/** A chart node of `height` px drawing `option`, labelled `label`; its `drawn` resolves after the first frame. */
export function chart(option, { height = 260, label, onClick } = {}) {
  const el = h("div", { class: "chart", style: `height:${height}px`, role: "img", "aria-label": label });
  let resolveDrawn;
  el.drawn = new Promise((resolve) => {
    resolveDrawn = resolve;
  });
  requestAnimationFrame(() => {
    if (!el.isConnected) {
      resolveDrawn();
      return;
    }
    const instance = echarts.init(el, null, { renderer: "canvas" });
    charts.add(instance);
    onLeave(() => {
      charts.delete(instance);
      instance.dispose();
    });
    instance.on("finished", () => resolveDrawn());
    if (onClick) instance.on("click", onClick);
    instance.setOption({ animation: false, color: PALETTE, aria: { enabled: true, label: { description: label } }, ...option });
    el.chart = instance;
  });
  return el;
}

addEventListener("resize", () => {
  for (const instance of charts) instance.resize();
});

/**
 * A time series: `series` [{name, points: [[epochSeconds, value]], dashed}] in one `unit`. Times are drawn in
 * the viewer's time zone.
 */
export function timeChart(series, unit, { height, label, stacked = false, bars = false } = {}) {
  return chart(
    {
      grid: { left: 64, right: 16, top: 32, bottom: 28 },
      legend: { top: 0, type: "scroll" },
      tooltip: { trigger: "axis", valueFormatter: (v) => formatValue(v, unit) },
      xAxis: { type: "time" },
      yAxis: { type: "value", axisLabel: { formatter: (v) => formatValue(v, unit) } },
      series: series.map((s) => ({
        name: s.name,
        type: bars ? "bar" : "line",
        stack: stacked ? "total" : undefined,
        showSymbol: false,
        connectNulls: false,
        lineStyle: s.dashed ? { type: "dashed", opacity: 0.7 } : undefined,
        areaStyle: stacked ? {} : undefined,
        data: s.points.map(([t, v]) => [t * 1000, v]),
      })),
    },
    { height, label: label ?? series.map((s) => s.name).join(", ") },
  );
}

/** A small line without axes, for a tile. */
export function sparkline(points, label) {
  return chart(
    {
      grid: { left: 0, right: 0, top: 2, bottom: 2 },
      xAxis: { type: "time", show: false },
      yAxis: { type: "value", show: false, scale: true },
      series: [{ type: "line", showSymbol: false, data: points.map(([t, v]) => [t * 1000, v]), lineStyle: { width: 1.5 }, areaStyle: { opacity: 0.12 } }],
    },
    { height: 40, label },
  );
}

/** Horizontal bars of `rows` [{name, value, previous}] in `unit`; with `compare`, the previous values beside. */
export function barChart(rows, unit, { label, height, compare = false } = {}) {
  const series = [{ name: "this period", type: "bar", data: rows.map((r) => r.value) }];
  if (compare) series.push({ name: "previous period", type: "bar", data: rows.map((r) => r.previous), itemStyle: { opacity: 0.45 } });
  return chart(
    {
      grid: { left: 150, right: 24, top: compare ? 28 : 8, bottom: 24 },
      legend: compare ? { top: 0 } : undefined,
      tooltip: { trigger: "axis", valueFormatter: (v) => formatValue(v, unit) },
      xAxis: { type: "value", axisLabel: { formatter: (v) => formatValue(v, unit) } },
      yAxis: { type: "category", inverse: true, data: rows.map((r) => r.name), axisLabel: { width: 140, overflow: "truncate" } },
      series,
    },
    { label, height: height ?? Math.max(120, (compare ? 40 : 28) * rows.length + 40) },
  );
}
