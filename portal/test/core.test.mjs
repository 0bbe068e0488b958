// Unit tests of the portal's pure modules, run by `node --test portal/test/` (tests/portal/test_units.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { filterText, parseFilter, withCondition } from "../src/filters.js";
import { change, escapeHtml, formatChange, formatValue } from "../src/format.js";
import { flow } from "../src/pages/flow.js";
import { hrefFor, pageState, patched, readState } from "../src/state.js";
import { granularityFor, periodOf, previousPeriod } from "../src/time.js";

test("a filter reads and writes the API's bracket syntax", () => {
  const text = "[cdn=Akamai][country!=US|CA][city=Washington, D.C.]";
  const conditions = parseFilter(text);
  assert.deepEqual(conditions, [
    { field: "cdn", op: "=", values: ["Akamai"] },
    { field: "country", op: "!=", values: ["US", "CA"] },
    { field: "city", op: "=", values: ["Washington, D.C."] },
  ]);
  assert.equal(filterText(conditions), text);
  assert.deepEqual(parseFilter(""), []);
  assert.deepEqual(parseFilter(undefined), []);
});

test("a drill-down condition replaces the one on its field and keeps the others", () => {
  assert.equal(withCondition("[cdn=Akamai][device=tv]", "cdn", "Fastly"), "[device=tv][cdn=Fastly]");
  assert.equal(withCondition(undefined, "errorcode", "HTTP_404"), "[errorcode=HTTP_404]");
  assert.equal(withCondition("", "season", 3), "[season=3]");
});

test("the state makes one URL whatever the order it was built in, and back", () => {
  const href = hrefFor({ f: "[cdn=Akamai]", p: "video", zz: "1", c: "1001", range: "7d" });
  assert.equal(href, "/?p=video&c=1001&range=7d&f=%5Bcdn%3DAkamai%5D&zz=1");
  assert.deepEqual(readState(href.slice(1)), { p: "video", c: "1001", range: "7d", f: "[cdn=Akamai]", zz: "1" });
  assert.equal(hrefFor({}), "/");
});

test("another page keeps the customer, period, filter and comparison, and drops the page's own keys", () => {
  const state = { p: "video", c: "1002", range: "custom", from: "1", to: "2", f: "[a=b]", cmp: "1", by: "cdn", o: "50" };
  assert.deepEqual(pageState(state, "views", { q: "latency>3" }), {
    c: "1002", range: "custom", from: "1", to: "2", f: "[a=b]", cmp: "1", p: "views", q: "latency>3",
  });
  assert.deepEqual(patched({ a: "1", b: "2" }, { a: null, b: 3, c: "" }), { b: "3" });
});

test("numbers are shown with their unit's decimals and suffix", () => {
  assert.equal(formatValue(1234567.4, "views"), "1,234,567");
  assert.equal(formatValue(12.345, "percent"), "12.35 %");
  assert.equal(formatValue(0.0512, "fraction"), "5.12 %");
  assert.equal(formatValue(1.3, "seconds"), "1.30 s");
  assert.equal(formatValue(43414.6, "minutes"), "43,415 min");
  assert.equal(formatValue(5754.2, "kbps"), "5,754 kbps");
  assert.equal(formatValue(null, "percent"), "—");
  assert.equal(formatValue(undefined), "—");
  assert.equal(formatValue("abc"), "abc");
});

test("the change against the previous period", () => {
  assert.equal(change(120, 100), 20);
  assert.equal(change(80, -100), 180);
  assert.equal(change(5, 0), null);
  assert.equal(change(null, 3), null);
  assert.equal(formatChange(20), "+20.0 % vs previous period");
  assert.equal(formatChange(-3.21), "−3.2 % vs previous period");
  assert.equal(formatChange(0), "±0.0 % vs previous period");
  assert.equal(formatChange(null), "no previous value");
});

test("a preset period ends at the current whole minute; a custom one is as given; the previous one is as long", () => {
  const now = Date.UTC(2026, 11, 6, 4, 15, 42);
  const end = Date.UTC(2026, 11, 6, 4, 15) / 1000;
  assert.deepEqual(periodOf({ range: "6h" }, now), { start: end - 6 * 3600, end, label: "Last 6 hours" });
  assert.equal(periodOf({}, now).start, end - 86400);
  assert.equal(periodOf({ range: "nonsense" }, now).start, end - 86400);
  const custom = periodOf({ range: "custom", from: "1000", to: "5000" }, now);
  assert.deepEqual([custom.start, custom.end], [1000, 5000]);
  assert.equal(periodOf({ range: "custom", from: "5000", to: "1000" }, now).end, end);
  assert.deepEqual(previousPeriod({ start: 1000, end: 5000 }), { start: -3000, end: 1000, label: "previous period" });
});

test("a plan without minute buckets asks for hours, or days past a week", () => {
  const day = { start: 0, end: 86400 };
  assert.equal(granularityFor(day, new Set(["minute_granularity"])), "auto");
  assert.equal(granularityFor(day, new Set()), "hour");
  assert.equal(granularityFor({ start: 0, end: 8 * 86400 }, new Set()), "day");
});

test("the paths' flow links each step to the next, told apart by step, so it never loops", () => {
  const rows = [
    { kind: "path", titles: ["A", "B"], count: 10 },
    { kind: "path", titles: ["C", "B"], count: 5 },
    { kind: "path", titles: ["A", "B", "A"], count: 4 },
    { kind: "path", titles: ["A", "B", "(end)"], count: 6 },
    { kind: "transition", titles: ["B", "A"], count: 99 },
    { kind: "path", titles: ["A"], count: 1 },
  ];
  const { nodes, links } = flow(rows);
  assert.deepEqual(links, [
    { source: "1. A", target: "2. B", value: 10 },
    { source: "2. B", target: "3. (end)", value: 6 },
    { source: "1. C", target: "2. B", value: 5 },
    { source: "2. B", target: "3. A", value: 4 },
  ]);
  assert.deepEqual(nodes.map((n) => n.name).sort(), ["1. A", "1. C", "2. B", "3. (end)", "3. A"]);
  assert.ok(nodes.find((n) => n.name === "3. (end)").itemStyle);
  const many = Array.from({ length: 60 }, (_, i) => ({ kind: "path", titles: [`T${i}`, "X"], count: i + 1 }));
  const top = flow(many).links;
  assert.equal(top.length, 40);
  assert.equal(top[0].value, 60);
});

test("text from beacons is escaped before a chart's tooltip shows it as HTML", () => {
  assert.equal(escapeHtml(`<img src=x onerror="alert('1')">&`), "&#60;img src=x onerror=&#34;alert(&#39;1&#39;)&#34;&#62;&#38;");
  assert.equal(escapeHtml(42), "42");
});
