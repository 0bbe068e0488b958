// Views: the sessions of the period with the page's filters, a status filter and a per-view `qoefilter`;
// each view opens its timeline.

import { filterText, parseFilter } from "../filters.js";
import { formatTime } from "../time.js";
import { h, panel, table } from "../ui.js";
import { params, select } from "./common.js";

const PAGE = 50;
const STATUSES = [["", "Any status"], ["startfailed", "Start failed"], ["playbackfailed", "Playback failed"], ["exitedbeforestart", "Exited before start"], ["completed", "Completed"], ["exited", "Exited"]];
const FIELDS = "sessionid,starttime,endtime,status,errorcode,assetname,cdn,device,country,watchtime,latency,bufferingratio,avgbitrate";

export async function render(ctx) {
  const offset = Math.max(0, Number(ctx.state.o) || 0);
  const status = STATUSES.some(([key]) => key && key === ctx.state.status) ? ctx.state.status : "";
  const sessiontype = ctx.state.st === "ended" ? "ended" : "started";
  const conditions = parseFilter(ctx.state.f).filter((c) => c.field !== "status");
  const filter = filterText(status ? [...conditions, { field: "status", op: "=", values: [status] }] : conditions);
  const list = panel(
    "Views",
    async ({ actions }) => {
      const { url, answer } = await ctx.q.sessions({
        ...params(ctx, { metrics: FIELDS, limit: PAGE, offset, sessiontype, qoefilter: ctx.state.q, orderby: "starttime", order: "desc" }),
        filter,
      });
      const rows = answer.response.map((row) => ({ ...row, started: formatTime(row.starttime) }));
      if (!rows.length) return null;
      const columns = [
        { key: "sessionid", label: "View", link: (row) => ctx.pageHref("view", { sid: row.sessionid }) },
        { key: "started", label: "Started" },
        { key: "status", label: "Status" },
        { key: "errorcode", label: "Fatal error" },
        { key: "assetname", label: "Title" },
        { key: "cdn", label: "CDN" },
        { key: "device", label: "Device" },
        { key: "country", label: "Country" },
        { key: "watchtime", label: "Watch time", unit: "minutes" },
        { key: "latency", label: "Start time", unit: "seconds" },
        { key: "bufferingratio", label: "Rebuffering", unit: "percent" },
        { key: "avgbitrate", label: "Bitrate", unit: "kbps" },
      ];
      const pager = h(
        "div",
        { class: "pager" },
        offset > 0 ? h("a", { href: ctx.href({ o: Math.max(0, offset - PAGE) || null }) }, "Previous page") : null,
        h("span", { id: "views-total", dataset: { value: String(answer.totalrecords) } }, `Views ${offset + 1}–${offset + rows.length} of ${answer.totalrecords}`),
        offset + PAGE < answer.totalrecords ? h("a", { href: ctx.href({ o: offset + PAGE }) }, "Next page") : null,
      );
      return h("div", {}, table({ columns, rows, request: url, caption: "Views", actions, filename: "views.csv" }), pager);
    },
    { wide: true, emptyText: "No view matches in this period." },
  );
  const qoe = h("input", { id: "qoefilter", value: ctx.state.q ?? "", placeholder: "latency>3 AND bufferingratio>5", size: 32 });
  const tools = h(
    "div",
    { class: "page-tools wide" },
    select({ label: "Status", value: status, options: STATUSES, onChange: (v) => ctx.go({ status: v, o: null }), id: "status" }),
    select({ label: "Views that", value: sessiontype, options: [["started", "started in the period"], ["ended", "ended in the period"]], onChange: (v) => ctx.go({ st: v === "ended" ? v : null, o: null }), id: "sessiontype" }),
    h(
      "form",
      { class: "inline-select", onsubmit: (e) => { e.preventDefault(); ctx.go({ q: qoe.value.trim(), o: null }); } },
      h("label", { for: "qoefilter" }, "Per-view condition (qoefilter)"),
      qoe,
      h("button", { type: "submit" }, "Apply"),
    ),
  );
  return [tools, list];
}
