// Content Paths: a flow (Sankey) of what viewers watch next, step by step from the start of their viewing
// sessions, with where they stop, and the top paths of length 2 to 5.

import { chart } from "../charts.js";
import { h, panel, table } from "../ui.js";
import { params, select } from "./common.js";
import { flow } from "./flow.js";

const SANKEY_PATHS = 1000;

export async function render(ctx) {
  const length = ["2", "3", "4", "5"].includes(ctx.state.len) ? ctx.state.len : "2";
  /** The rows of contentpaths that `conditions` keep (the page's filter too), the first `limit`. */
  const rowsOf = (conditions, limit) =>
    ctx.q.smartQuery({ ...params(ctx, { queryname: "contentpaths", limit }), filter: `${ctx.state.f ?? ""}${conditions}` });
  const answer = rowsOf("[kind=path]", SANKEY_PATHS);
  const sankey = panel(
    "Where viewing sessions go: first titles, next titles, stops",
    async () => {
      const { url, answer: a } = await answer;
      const { nodes, links } = flow(a.response);
      if (!links.length) return null;
      const node = chart(
        {
          tooltip: { trigger: "item" },
          series: [{ type: "sankey", data: nodes, links, nodeAlign: "left", emphasis: { focus: "adjacency" }, label: { fontSize: 11 }, lineStyle: { color: "gradient", opacity: 0.4 } }],
        },
        { height: 520, label: "Flow of viewing sessions from title to title, step by step" },
      );
      node.dataset.request = url;
      return node;
    },
    { wide: true, note: `The ${SANKEY_PATHS} most common paths, their 40 largest steps.` },
  );
  const top = panel(
    `Top paths of ${length} titles`,
    async ({ actions }) => {
      const { url, answer: a } = await rowsOf(`[kind=path][pathlength=${length}]`, 25);
      const rows = a.response;
      if (!rows.length) return null;
      const columns = [
        { key: "titles", label: "Path" },
        { key: "count", label: "Sessions", unit: "count" },
        { key: "share", label: "Share of the path before", unit: "fraction" },
        { key: "sessionshare", label: "Share of all sessions", unit: "fraction" },
      ];
      return table({ columns, rows, request: url, caption: `Top paths of ${length} titles`, actions, filename: `paths-${length}.csv` });
    },
    { wide: true },
  );
  const exits = panel("Where viewers stop", async ({ actions }) => {
    const { url, answer: a } = await rowsOf("[kind=exit]", 15);
    const rows = a.response;
    if (!rows.length) return null;
    const columns = [
      { key: "titles", label: "Last title → stop" },
      { key: "count", label: "Stops", unit: "count" },
      { key: "share", label: "Of the title's plays in sessions", unit: "fraction" },
    ];
    return table({ columns, rows, request: url, caption: "Where viewers stop", actions, filename: "exits.csv" });
  });
  const transitions = panel("Most common next titles", async ({ actions }) => {
    const { url, answer: a } = await rowsOf("[kind=transition]", 15);
    const rows = a.response;
    if (!rows.length) return null;
    const columns = [
      { key: "titles", label: "Title → next title" },
      { key: "count", label: "Times", unit: "count" },
      { key: "share", label: "Of the title's plays in sessions", unit: "fraction" },
    ];
    return table({ columns, rows, request: url, caption: "Most common next titles", actions, filename: "transitions.csv" });
  });
  const choose = select({ label: "Path length", value: length, options: ["2", "3", "4", "5"].map((n) => [n, `${n} titles`]), onChange: (v) => ctx.go({ len: v }), id: "path-length" });
  return [sankey, h("div", { class: "page-tools wide" }, choose), top, transitions, exits];
}
