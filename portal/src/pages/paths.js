// Content Paths: a flow (Sankey) of what viewers watch next, step by step from the start of their viewing
// sessions, with where they stop, and the top paths of length 2 to 5.

import { chart } from "../charts.js";
import { h, panel, table } from "../ui.js";
import { params, select } from "./common.js";
import { flow } from "./flow.js";

export async function render(ctx) {
  const length = ["2", "3", "4", "5"].includes(ctx.state.len) ? ctx.state.len : "2";
  const rowsOf = (kind, limit) => ctx.q.smartQuery({ ...params(ctx, { queryname: "contentpaths", limit }), filter: `${ctx.state.f ?? ""}[kind=${kind}]` });
  const answer = rowsOf("path", 5000);
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
    { wide: true },
  );
  const top = panel(
    `Top paths of ${length} titles`,
    async ({ actions }) => {
      const { url, answer: a } = await answer;
      const rows = a.response.filter((r) => r.kind === "path" && r.pathlength === Number(length)).slice(0, 25);
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
    const { url, answer: a } = await rowsOf("exit", 15);
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
    const { url, answer: a } = await rowsOf("transition", 15);
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
