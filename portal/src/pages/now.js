// Now: concurrent viewers and plays per minute over the last 30 minutes, refreshing every 15 s.

import { timeChart } from "../charts.js";
import { h, panel, tile } from "../ui.js";
import { points } from "./common.js";

const WINDOW_S = 1800;
const REFRESH_MS = 15000;

export async function render(ctx) {
  const host = h("div", { class: "wide now", style: "display:contents" });
  const draw = async () => {
    const end = Math.floor(Date.now() / 60000) * 60 + 60;
    const period = `start=${end - WINDOW_S},end=${end}`;
    const nodes = [
      panel(
        "Right now",
        async () => {
          const { url, answer } = await ctx.q.metrics({ metrics: "concurviewavg,viewercount,uniqueviewercount", period: `start=${end - 120},end=${end - 60}`, filter: ctx.state.f });
          const row = answer.response[0] ?? {};
          return h(
            "div",
            { class: "tiles" },
            tile({ metric: "concurviewavg", label: "Concurrent viewers (last full minute)", unit: "views", value: row.concurviewavg, request: url }),
            tile({ metric: "viewercount", label: "Plays started (last full minute)", unit: "views", value: row.viewercount, request: url }),
            tile({ metric: "uniqueviewercount", label: "Unique viewers (last full minute)", unit: "count", value: row.uniqueviewercount, request: url }),
          );
        },
        { wide: true },
      ),
      panel(
        "Concurrent viewers and plays per minute, last 30 minutes",
        async () => {
          const { url, answer } = await ctx.q.metrics({ metrics: "concurviewavg,viewercount", period, aggby: "timestamp", granularity: "minute", filter: ctx.state.f });
          if (!answer.response.length) return null;
          const node = timeChart(
            [{ name: "Concurrent viewers", points: points(answer.response, "concurviewavg") }, { name: "Plays per minute", points: points(answer.response, "viewercount") }],
            "views",
            { label: "Concurrent viewers and plays per minute" },
          );
          node.dataset.request = url;
          return node;
        },
        { wide: true },
      ),
    ];
    host.replaceChildren(...nodes);
    await Promise.all(nodes.map((n) => n.done));
  };
  const timer = setInterval(() => {
    if (ctx.signal.aborted || !host.isConnected) clearInterval(timer);
    else draw();
  }, REFRESH_MS);
  ctx.signal.addEventListener("abort", () => clearInterval(timer));
  host.done = draw();
  return [host];
}
