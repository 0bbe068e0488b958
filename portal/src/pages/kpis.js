// KPIs: the headline numbers of the period, each with its sparkline and its change against the previous
// period, and plays over time.

import { sparkline } from "../charts.js";
import { change, formatChange } from "../format.js";
import { h, panel, tile } from "../ui.js";
import { familyChart, params, points, series } from "./common.js";

const TILES = ["viewercount", "uniqueviewercount", "playdur", "vsf", "ebvs", "vpf", "latency", "bufferingratio", "avgbitrate", "concurviewavg"];
const LOWER_IS_BETTER = new Set(["vsf", "ebvs", "vpf", "latency", "bufferingratio"]);

export async function render(ctx) {
  const metrics = TILES.join(",");
  const headline = panel(
    "Headline numbers",
    async () => {
      const [now, before, trend] = await Promise.all([
        ctx.q.metrics(params(ctx, { metrics })),
        ctx.q.metrics(params(ctx, { metrics }, ctx.previous)),
        ctx.q.metrics(params(ctx, { metrics, aggby: "timestamp", granularity: ctx.granularity })),
      ]);
      const row = now.answer.response[0] ?? {};
      const previous = before.answer.response[0] ?? {};
      const sparks = [];
      const tiles = TILES.map((name) => {
        const spec = ctx.metric(name);
        const delta = change(row[name], previous[name]);
        const better = delta === null || delta === 0 ? "" : (delta < 0) === LOWER_IS_BETTER.has(name) ? "better" : "worse";
        const spark = sparkline(points(trend.answer.response, name), `${spec.label} over the period`);
        sparks.push(spark.drawn);
        return tile({ metric: name, label: spec.label, unit: spec.unit, value: row[name], request: now.url, changeText: formatChange(delta), changeClass: better, spark });
      });
      const node = h("div", { class: "tiles", dataset: { previousRequest: before.url, trendRequest: trend.url } }, tiles);
      node.drawn = Promise.all(sparks);
      return node;
    },
    { wide: true },
  );
  const plays = panel("Plays and unique viewers over time", async () =>
    familyChart(ctx, { title: "Plays and unique viewers", metrics: ["viewercount", "uniqueviewercount"], unit: "views" }, await series(ctx, ["viewercount", "uniqueviewercount"])),
  { wide: true });
  return [headline, plays];
}
