// Ad Experience: ad requests, fill rate, impressions, starts, quartile completion, ad errors and ad stalls,
// over time and by any dimension, and the ad errors by VAST code.

import { h, panel, table, tile } from "../ui.js";
import { breakdownPanel, params, select, seriesPanels } from "./common.js";

const TOTALS = ["adrequests", "adfillrate", "adimpression", "adstarts", "adcompletionrate", "aderrors", "adstalls", "adplaydur"];
const FAMILIES = [
  { title: "Ad requests, impressions and starts", metrics: ["adrequests", "adimpression", "adstarts"], unit: "count" },
  { title: "Fill rate", metrics: ["adfillrate"], unit: "percent" },
  { title: "Quartile completion", metrics: ["adfirstquartilerate", "admidpointrate", "adthirdquartilerate", "adcompletionrate"], unit: "percent" },
  { title: "Ad errors and ad stalls", metrics: ["aderrors", "adstalls"], unit: "count" },
];
const BREAKDOWN = ["adrequests", "adimpression", "adfillrate", "adstarts", "adcompletionrate", "aderrors", "aderrorrate", "adstalls"];

export async function render(ctx) {
  const by = ctx.state.by ?? "player";
  const totals = panel(
    "Ad totals",
    async () => {
      const { url, answer } = await ctx.q.metrics(params(ctx, { metrics: TOTALS.join(",") }));
      const row = answer.response[0] ?? {};
      return h("div", { class: "tiles" }, TOTALS.map((name) => tile({ metric: name, label: ctx.metric(name).label, unit: ctx.metric(name).unit, value: row[name], request: url })));
    },
    { wide: true },
  );
  const codes = panel(
    "Ad errors by VAST code",
    async ({ actions }) => {
      if (!ctx.features.has("error_heatmap")) return h("p", {}, `Not included in your plan (${ctx.plan}): errors by code.`);
      const { url, answer } = await ctx.q.errors(params(ctx, { metrics: "errors,affectedviews,errorrate", dimension: "ad", aggby: "errorcode,errormessage", limit: 20 }));
      if (!answer.response.length) return null;
      const columns = [
        { key: "errorcode", label: "Code" },
        { key: "errormessage", label: "Message" },
        { key: "errors", label: "Ad errors", unit: "count" },
        { key: "affectedviews", label: "Views affected", unit: "views" },
        { key: "errorrate", label: "Errors ÷ ad requests", unit: "percent" },
      ];
      return table({ columns, rows: answer.response, request: url, caption: "Ad errors by VAST code", actions, filename: "ad-errors.csv" });
    },
    { wide: true },
  );
  const choose = select({ label: "Break down by", value: by, options: ctx.dimensionNames.map((d) => [d, d]), onChange: (v) => ctx.go({ by: v }), id: "breakdown-by" });
  return [
    totals,
    ...seriesPanels(ctx, FAMILIES),
    h("div", { class: "page-tools wide" }, choose),
    breakdownPanel(ctx, { by, metrics: BREAKDOWN, focus: "adfillrate", title: `Ads by ${by}` }),
    codes,
  ];
}
