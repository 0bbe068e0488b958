// Small DOM helpers and the parts every page is made of: panels (with their loading, empty and error
// states), tables (downloadable as CSV), tiles.

import { ApiError } from "./api.js";
import { SCALE, formatValue } from "./format.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** What to undo when the page is left (charts to dispose of), registered by the modules that made them. */
const cleanups = new Set();
export const onLeave = (cleanup) => cleanups.add(cleanup);
export function leavePage() {
  for (const cleanup of cleanups) cleanup();
  cleanups.clear();
}

let ids = 0;
export const uniqueId = (prefix) => `${prefix}-${++ids}`;

/** What an error says to a person: the API's own message (which names the parameter), or a network failure. */
export function errorText(error) {
  if (error instanceof ApiError) return `${error.message} (${error.status}${error.parameter ? `, ${error.parameter}` : ""})`;
  return `The request failed: ${error?.message ?? error}`;
}

/**
 * A titled panel whose body is in one of four states (data-state): loading, ready, empty or error.
 * `load` is awaited; it returns a node (ready) or null (empty). The page waits for `panel.done`.
 */
export function panel(title, load, { wide = false, emptyText = "No data in this period.", id, note } = {}) {
  const headingId = uniqueId("panel");
  const body = h("div", { class: "panel-body", "aria-live": "polite" });
  const actions = h("div", { class: "panel-actions" });
  const el = h(
    "section",
    { class: wide ? "panel wide" : "panel", "aria-labelledby": headingId, id, dataset: { state: "loading" } },
    h("header", { class: "panel-header" }, h("h2", { id: headingId }, title), actions),
    note ? h("p", { class: "panel-note" }, note) : null,
    body,
  );
  const setState = (state, ...nodes) => {
    el.dataset.state = state;
    el.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    body.replaceChildren(...nodes);
  };
  setState("loading", h("p", { class: "state loading" }, "Loading…"));
  const done = Promise.resolve()
    .then(() => load({ actions, body }))
    .then(async (node) => {
      if (node === null || node === undefined) setState("empty", h("p", { class: "state empty" }, emptyText));
      else {
        setState("ready", node);
        await node.drawn;
      }
    })
    .catch((error) => {
      if (error?.name === "AbortError") return;
      setState("error", h("p", { class: "state error", role: "alert" }, errorText(error)));
    });
  return Object.assign(el, { done });
}

/** A panel that says what the customer's plan does not include. */
export function notIncluded(title, what, plan) {
  return h(
    "section",
    { class: "panel not-included", dataset: { state: "not-included" } },
    h("header", { class: "panel-header" }, h("h2", {}, title)),
    h("p", { class: "state" }, `Not included in your plan (${plan}): ${what}. Ask us about a higher plan level.`),
  );
}

function csvCell(value) {
  const text = value === null || value === undefined ? "" : Array.isArray(value) ? value.join(" > ") : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.key)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c.key])).join(","));
  return lines.join("\r\n") + "\r\n";
}

export function downloadButton(filename, columns, rows) {
  return h(
    "button",
    {
      type: "button",
      class: "csv",
      onclick: () => {
        const url = URL.createObjectURL(new Blob([toCsv(columns, rows)], { type: "text/csv" }));
        const link = h("a", { href: url, download: filename });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      },
    },
    "Download CSV",
  );
}

/**
 * A table of `rows` (as the API answered them) with `columns` [{key, label, unit, link(row) → href, derived}],
 * its request on `data-request`, and a CSV download of the same rows in `actions`.
 */
export function table({ columns, rows, request, caption, actions, filename, navigate }) {
  if (actions) actions.append(downloadButton(filename ?? "sightline.csv", columns, rows));
  const cell = (row, column) => {
    const value = row[column.key];
    const text =
      column.unit !== undefined ? formatValue(value, column.unit) : Array.isArray(value) ? value.join(" → ") : value === "" ? "(none)" : (value ?? "—");
    const href = column.link?.(row);
    const content = href ? h("a", { href, onclick: navigate }, text) : text;
    const numeric = typeof value === "number";
    // a number of the API's answer carries its value; one the page computed (`derived`) says so
    const dataset = !numeric ? { key: column.key } : column.derived ? { key: column.key, derived: String(value) } : { key: column.key, value: String(value), scale: String(SCALE[column.unit] ?? 1) };
    return h("td", { class: column.unit !== undefined ? "num" : null, dataset }, content);
  };
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      { dataset: { request } },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.unit !== undefined ? "num" : null }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => cell(row, c))))),
    ),
  );
}

/** A headline number: its value as shown, the raw value and the request it came from on data attributes. */
export function tile({ metric, label, unit, value, request, changeText, changeClass, spark }) {
  return h(
    "div",
    { class: "tile", dataset: { metric } },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value", dataset: { value: value === null || value === undefined ? "" : String(value), request } }, formatValue(value, unit)),
    changeText ? h("div", { class: `tile-change ${changeClass ?? ""}` }, changeText) : null,
    spark ?? null,
  );
}
