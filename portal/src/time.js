// Periods: presets relative to now (whole minutes, as the API floors them) or a custom range; times are
// shown in the viewer's time zone (the browser's).

export const PRESETS = [
  { key: "30m", label: "Last 30 minutes", seconds: 1800 },
  { key: "1h", label: "Last hour", seconds: 3600 },
  { key: "6h", label: "Last 6 hours", seconds: 6 * 3600 },
  { key: "24h", label: "Last 24 hours", seconds: 86400 },
  { key: "7d", label: "Last 7 days", seconds: 7 * 86400 },
  { key: "30d", label: "Last 30 days", seconds: 30 * 86400 },
];
export const DEFAULT_RANGE = "24h";

export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

const dateTime = new Intl.DateTimeFormat("en-GB", {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

export function formatTime(epochSeconds) {
  return dateTime.format(new Date(epochSeconds * 1000));
}

/** The period of `state`: {start, end} in epoch seconds, with a label. */
export function periodOf(state, nowMs = Date.now()) {
  if (state.range === "custom") {
    const start = Number(state.from);
    const end = Number(state.to);
    if (Number.isFinite(start) && Number.isFinite(end) && start < end) {
      return { start, end, label: `${formatTime(start)} – ${formatTime(end)}` };
    }
  }
  const preset = PRESETS.find((p) => p.key === state.range) ?? PRESETS.find((p) => p.key === DEFAULT_RANGE);
  const end = Math.floor(nowMs / 60000) * 60;
  return { start: end - preset.seconds, end, label: preset.label };
}

/** The period of the same length just before `period`. */
export function previousPeriod(period) {
  const length = period.end - period.start;
  return { start: period.start - length, end: period.start, label: "previous period" };
}

export const periodParam = (period) => `start=${period.start},end=${period.end}`;

/** `epochSeconds` as the value of an `<input type="datetime-local">`, in the viewer's time zone. */
export function toLocalInput(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The epoch seconds of an `<input type="datetime-local">` value, read in the viewer's time zone. */
export function fromLocalInput(value) {
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** The granularity to ask for: `auto` when the plan allows minute buckets, else hours (days past 7 days). */
export function granularityFor(period, features) {
  if (features.has("minute_granularity")) return "auto";
  return period.end - period.start > 7 * 86400 ? "day" : "hour";
}
