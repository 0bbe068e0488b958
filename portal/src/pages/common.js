// Parts shared by the dashboards: series from the API's rows, the previous period overlaid, a breakdown
// by any dimension with its drill-down to the views, and the selects that change a page's own state.

import { barChart, timeChart } from "../charts.js";
import { withCondition } from "../filters.js";
import { change } from "../format.js";
import { periodParam } from "../time.js";
import { h, panel, table, uniqueId } from "../ui.js";

/** [[timestamp, value]] of `metric` in the rows of a series answer. */
export const points = (rows, metric) => rows.map((row) => [row.timestamp, row[metric] ?? null]);

/** Points of the previous period moved onto the current one, to draw beside it. */
export const shifted = (pts, seconds) => pts.map(([t, v]) => [t + seconds, v]);

/** The common parameters of a request over `period` (the page's by default) with the page's filter. */
export function params(ctx, extra = {}, period = ctx.period) {
  return { period: periodParam(period), filter: ctx.state.f, ...extra };
}

/** One series request of `metrics` (and of the previous period when comparing): {now, before, url}. */
export async function series(ctx, metrics, extra = {}) {
  const ask = (period) => ctx.q.metrics(params(ctx, { metrics: metrics.join(","), aggby: "timestamp", granularity: ctx.granularity, ...extra }, period));
  const [now, before] = await Promise.all([ask(ctx.period), ctx.comparing ? ask(ctx.previous) : null]);
  return { url: now.url, now: now.answer.response, before: before?.answer.response ?? null };
}

/** A chart of `family.metrics` (one unit) over time from a `series` answer, the previous period dashed. */
export function familyChart(ctx, family, answer) {
  const lines = [];
  for (const name of family.metrics) {
    const label = ctx.metric(name)?.label ?? name;
    lines.push({ name: label, points: points(answer.now, name) });
    if (answer.before) lines.push({ name: `${label} (previous period)`, points: shifted(points(answer.before, name), ctx.period.end - ctx.period.start), dashed: true });
  }
  const hasData = lines.some((line) => line.points.some(([, v]) => v !== null));
  if (!hasData) return null;
  const node = timeChart(lines, family.unit, { label: `${family.title} over time` });
  node.dataset.request = answer.url;
  return node;
}

export function seriesPanels(ctx, families, extra = {}) {
  const metrics = [...new Set(families.flatMap((f) => f.metrics))];
  const answer = series(ctx, metrics, extra);
  return families.map((family) => panel(family.title, async () => familyChart(ctx, family, await answer)));
}

export function select({ label, value, options, onChange, id }) {
  const selectId = id ?? uniqueId("select");
  return h(
    "span",
    { class: "inline-select" },
    h("label", { for: selectId }, label),
    h("select", { id: selectId, onchange: (e) => onChange(e.target.value) }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))),
  );
}

/**
 * A breakdown of `metrics` by the dimension `by`: a bar chart of `focus` and the table, each row linking to
 * the views of that value (the page's filter and the row's value). When comparing, the previous period's
 * `focus` is drawn beside it and its change is a column (computed here from the two answers).
 */
export function breakdownPanel(ctx, { by, metrics, focus, title, extra = {}, units }) {
  return panel(
    title ?? `By ${by}`,
    async ({ actions }) => {
      const ask = (period) => ctx.q.metrics(params(ctx, { metrics: metrics.join(","), aggby: by, orderby: metrics[0], order: "desc", limit: 50, ...extra }, period));
      const [{ url, answer }, before] = await Promise.all([ask(ctx.period), ctx.comparing ? ask(ctx.previous) : null]);
      const rows = answer.response;
      if (!rows.length) return null;
      const unit = (name) => units?.[name] ?? ctx.metric(name)?.unit ?? "count";
      const label = ctx.metric(focus)?.label ?? focus;
      const previous = new Map((before?.answer.response ?? []).map((row) => [row[by], row[focus]]));
      const shown = before ? rows.map((row) => ({ ...row, previous: previous.get(row[by]) ?? null, change: change(row[focus], previous.get(row[by])) })) : rows;
      const columns = [
        { key: by, label: by, link: (row) => ctx.pageHref("views", { f: withCondition(ctx.state.f, by, row[by]) }) },
        ...metrics.map((name) => ({ key: name, label: ctx.metric(name)?.label ?? name, unit: unit(name) })),
        ...(before
          ? [
              { key: "previous", label: `${label}, previous period`, unit: unit(focus), derived: true },
              { key: "change", label: `${label}: change`, unit: "percent", derived: true },
            ]
          : []),
      ];
      const top = shown.slice(0, 12).map((row) => ({ name: String(row[by] === "" ? "(none)" : row[by]), value: row[focus], previous: row.previous }));
      const chartNode = barChart(top, unit(focus), { label: `${label} by ${by}`, compare: Boolean(before) });
      const node = h(
        "div",
        {},
        chartNode,
        table({ columns, rows: shown, request: url, caption: `${title ?? by} breakdown`, actions, filename: `${by}-breakdown.csv` }),
      );
      node.drawn = chartNode.drawn;
      return node;
    },
    { wide: true },
  );
}
