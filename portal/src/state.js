// The whole state of the portal lives in the query string of `/`: a link reproduces the page, and the
// browser's back and forward buttons restore it. Keys: p (page), c (customer), range (a preset, or
// `custom` with from/to in epoch seconds), f (the filter, in the API's bracket syntax), cmp (1: compare with
// the previous period), and each page's own (by, hm, hmm, q, st, o, sid, cohort, len, m).

export const GLOBAL_KEYS = ["c", "range", "from", "to", "f", "cmp"];
const KEY_ORDER = ["p", ...GLOBAL_KEYS, "by", "m", "hm", "hmm", "q", "st", "o", "cohort", "len", "sid"];

export function readState(search = window.location.search) {
  const state = {};
  for (const [key, value] of new URLSearchParams(search)) {
    if (value !== "") state[key] = value;
  }
  return state;
}

export function hrefFor(state) {
  const params = new URLSearchParams();
  const extra = Object.keys(state).filter((key) => !KEY_ORDER.includes(key)).sort();
  for (const key of [...KEY_ORDER, ...extra]) {
    const value = state[key];
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

/** The state of another page: the global keys kept, the page's own replaced by `own`. */
export function pageState(state, page, own = {}) {
  const kept = Object.fromEntries(GLOBAL_KEYS.filter((key) => key in state).map((key) => [key, state[key]]));
  return { ...kept, p: page, ...own };
}

/** `state` with `patch` applied (a null or empty value removes its key). */
export function patched(state, patch) {
  const next = { ...state };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || value === undefined || value === "") delete next[key];
    else next[key] = String(value);
  }
  return next;
}
