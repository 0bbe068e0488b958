// The public API as the portal calls it: the same requests a customer could send, with the session's
// token. Every request's path and query (without credentials) is its `url`, which the pages put on what
// they show (`data-request`), so a reader can send the same request.

import { SignedOutError } from "./session.js";

export class ApiError extends Error {
  constructor(status, code, message, parameter) {
    super(message);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }
}

export function apiUrl(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export function createApi(session) {
  async function send(url, init) {
    const token = await session.accessToken();
    return fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
  }

  /** The JSON answer of `url`; ApiError with the API's own error, SignedOutError when the session ended. */
  async function request(url, init) {
    let response = await send(url, init);
    if (response.status === 401) {
      await session.refresh();
      response = await send(url, init);
      if (response.status === 401) {
        session.end("Your session has ended. Sign in again.");
        throw new SignedOutError("unauthorized");
      }
    }
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      const error = body?.error ?? {};
      throw new ApiError(response.status, error.code ?? "http_error", error.message ?? `HTTP ${response.status}`, error.parameter);
    }
    return response.json();
  }

  return {
    get: (url, signal) => request(url, { signal, headers: {} }),
    /** POST `body` as JSON (none when undefined). */
    post: (url, body, signal) =>
      request(url, { method: "POST", signal, headers: body === undefined ? {} : { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }),
  };
}

/** The requests of one customer: each returns {url, answer}. */
export function customerApi(api, customer, signal) {
  const base = (route, params) => apiUrl(`/mm-apis/${route}/${customer.customerid}`, { planlevel: customer.planlevel, ...params });
  const call = async (route, params) => {
    const url = base(route, params);
    return { url, answer: await api.get(url, signal) };
  };
  return {
    metrics: (params) => call("metricquery", params),
    errors: (params) => call("error", params),
    smartQuery: (params) => call("smartQuery", params),
    sessions: (params) => call("listsessions", params),
    alerts: (params) => call("getAIAlerts", params),
    /** An alert's action (`acknowledge`, or `mute` with `{seconds}`): the alert as the API answers it. */
    alertAction: (alertId, action, body) =>
      api.post(`/mm-apis/getAIAlerts/${customer.customerid}/${encodeURIComponent(alertId)}/${action}`, body, signal),
  };
}
