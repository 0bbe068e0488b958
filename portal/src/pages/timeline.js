// One view's timeline: its events on a time axis (startup, stalls, bitrate changes, errors, ads), the
// view's own row, and the events as a table.

import { chart } from "../charts.js";
import { escapeHtml, formatValue } from "../format.js";
import { formatTime } from "../time.js";
import { h, panel, table } from "../ui.js";

const LANES = [
  ["Playback", ["play_request", "first_frame", "heartbeat", "pause", "resume", "seek", "end", "exit"]],
  ["Stalls", ["stall_start", "stall_end", "rebuffer", "stall"]],
  ["Bitrate", ["bitrate_change", "rendition_change"]],
  ["Errors", ["error"]],
  ["Ads", ["ad_request", "ad_impression", "ad_start", "ad_first_quartile", "ad_midpoint", "ad_third_quartile", "ad_complete", "ad_skip", "ad_click", "ad_error", "ad_stall", "ad_end"]],
];
const laneOf = (event) => {
  const i = LANES.findIndex(([, events]) => events.includes(event));
  if (i >= 0) return i;
  return event.startsWith("ad_") ? 4 : event.includes("stall") || event.includes("buffer") ? 1 : event.includes("bitrate") || event.includes("rendition") ? 2 : 0;
};

export async function render(ctx) {
  const sid = ctx.state.sid ?? "";
  const answer = ctx.q.sessions({ sessionid: sid, limit: 1000 });
  const summary = panel("The view", async () => {
    const { url, answer: a } = await answer;
    const s = a.session;
    const facts = Object.entries(s).filter(([, v]) => v !== "" && v !== null);
    const show = (k, v) => (k === "starttime" || k === "endtime" ? formatTime(v) : typeof v === "number" ? formatValue(v, ctx.metric(k)?.unit ?? "ratio") : String(v));
    return h("dl", { class: "facts", dataset: { request: url } }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { key: k, value: String(v) } }, show(k, v))]));
  });
  const events = panel(
    "Events on a time axis",
    async () => {
      const { url, answer: a } = await answer;
      const rows = a.response;
      if (!rows.length) return null;
      const node = chart(
        {
          grid: { left: 80, right: 24, top: 12, bottom: 40 },
          tooltip: { formatter: (p) => escapeHtml(`${p.data.event} at +${p.data.value[0].toFixed(1)} s${p.data.detail ? `: ${p.data.detail}` : ""}`) },
          xAxis: { type: "value", name: "seconds since the play request", nameLocation: "middle", nameGap: 26 },
          yAxis: { type: "category", data: LANES.map(([name]) => name), inverse: true },
          series: [
            {
              type: "scatter",
              symbolSize: 10,
              data: rows.map((r) => ({
                value: [r.offset, laneOf(r.event)],
                event: r.event,
                detail: r.error_code ?? r.rendition_bitrate_kbps ?? r.ad_id ?? (r.rebuffer_ms ? `${r.rebuffer_ms} ms` : ""),
                itemStyle: { color: r.event === "error" ? "#b91c1c" : undefined },
              })),
            },
          ],
        },
        { height: 260, label: `The ${rows.length} events of view ${sid}` },
      );
      node.dataset.request = url;
      return node;
    },
    { wide: true },
  );
  const list = panel(
    "Events",
    async ({ actions }) => {
      const { url, answer: a } = await answer;
      if (!a.response.length) return null;
      const keys = [...new Set(a.response.flatMap((r) => Object.keys(r)))].filter((k) => !["totalpages", "timestamp"].includes(k));
      const rows = a.response.map((r) => ({ ...r, time: formatTime(r.timestamp) }));
      const columns = [{ key: "time", label: "Time" }, ...keys.map((k) => ({ key: k, label: k }))];
      return table({ columns, rows, request: url, caption: "Events of the view", actions, filename: `view-${sid}.csv` });
    },
    { wide: true },
  );
  return [summary, events, list];
}
