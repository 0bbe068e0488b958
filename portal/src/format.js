// How numbers are shown: a fixed locale (en-US grouping), decimals by unit; no value is "—".

const DECIMALS = { percent: 2, fraction: 2, seconds: 2, ratio: 2, "per hour": 2, score: 1 };
/** Units shown scaled: a fraction (0–1) as a percentage. */
export const SCALE = { fraction: 100 };
const SUFFIX = { percent: " %", fraction: " %", seconds: " s", minutes: " min", kbps: " kbps", "per hour": " /h", bytes: " B" };
const formats = new Map();

function numberFormat(decimals) {
  if (!formats.has(decimals)) {
    formats.set(decimals, new Intl.NumberFormat("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals }));
  }
  return formats.get(decimals);
}

export function formatValue(value, unit = "count") {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  return numberFormat(DECIMALS[unit] ?? 0).format(value * (SCALE[unit] ?? 1)) + (SUFFIX[unit] ?? "");
}

/** The change from `before` to `now` in percent, or null when there is nothing to compare. */
export function change(now, before) {
  if (typeof now !== "number" || typeof before !== "number" || before === 0) return null;
  return (100 * (now - before)) / Math.abs(before);
}

export function formatChange(percent) {
  if (percent === null) return "no previous value";
  const sign = percent > 0 ? "+" : percent < 0 ? "−" : "±";
  return `${sign}${numberFormat(1).format(Math.abs(percent))} % vs previous period`;
}

/** `text` safe inside HTML (chart tooltips are HTML, and names come from players' beacons). */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
