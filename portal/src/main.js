// The portal's shell: sign-in, the customer switcher, the navigation, the time-range picker, the filter
// bar and the comparison switch, all kept in the URL; each page is a module loaded when it opens.

import "./style.css";
import { apiUrl, createApi, customerApi } from "./api.js";
import { describeCondition, filterText, parseFilter } from "./filters.js";
import { FEATURES, PAGES, pageById } from "./pages.js";
import { LoginError, Session, SignedOutError } from "./session.js";
import { hrefFor, pageState, patched, readState } from "./state.js";
import { DEFAULT_RANGE, PRESETS, fromLocalInput, granularityFor, periodOf, previousPeriod, timeZone, toLocalInput } from "./time.js";
import { errorText, h, leavePage, notIncluded } from "./ui.js";

const root = document.getElementById("app");
const session = new Session((message) => showLogin(message));
const api = createApi(session);
let account = null; // {caller, customers, catalog} of the signed-in user
let current = null; // {customer, features, plan} of the customer shown
let pageRun = null; // the AbortController of the page being shown
let renders = 0;

// --- sign-in --------------------------------------------------------------------------------------------

function showLogin(message = "") {
  pageRun?.abort();
  leavePage();
  account = null;
  current = null;
  const error = h("p", { class: "login-error", role: "alert", id: "login-error" }, message);
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    {
      class: "login",
      "aria-describedby": "login-error",
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        error.textContent = "";
        try {
          await session.login(username.value.trim(), password.value);
          await start();
        } catch (failure) {
          error.textContent = failure instanceof LoginError ? failure.message : errorText(failure);
          password.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h1", {}, "Sign in to Sightline"),
    h("label", { for: "username" }, "Username"),
    username,
    h("label", { for: "password" }, "Password"),
    password,
    submit,
    error,
  );
  document.title = "Sign in – Sightline";
  root.replaceChildren(h("main", { id: "main", class: "login-page", dataset: { ready: "true" } }, form));
  username.focus();
}

async function start() {
  const [answer, catalog] = await Promise.all([api.get("/mm-apis/whoami"), api.get("/mm-apis/catalog")]);
  account = { caller: answer.caller, customers: answer.customers, catalog };
  if (!answer.customers.length) {
    root.replaceChildren(h("main", { id: "main" }, h("h1", {}, "No customer"), h("p", {}, "Your user belongs to no customer.")));
    return;
  }
  await show(readState(), { replace: true });
}

// --- navigation -----------------------------------------------------------------------------------------

async function go(state, { replace = false } = {}) {
  const href = hrefFor(state);
  if (replace) history.replaceState(null, "", href);
  else if (href !== location.pathname + location.search) history.pushState(null, "", href);
  await show(readState());
}

/** `render`, its failure shown on the page (a signed-out session has already shown the sign-in form). */
function show(state, options) {
  return render(state, options).catch((error) => {
    if (error instanceof SignedOutError) return;
    const main = document.getElementById("main");
    main?.append(h("p", { role: "alert", class: "state error" }, errorText(error)));
    if (main) main.dataset.ready = "true";
  });
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href^='/?'], a[href='/']");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  go(readState(new URL(link.href).search));
});

document.addEventListener("portal:navigate", (event) => go(readState(new URL(event.detail, location.origin).search)));

addEventListener("popstate", () => {
  if (account) show(readState());
});

// --- the shell ------------------------------------------------------------------------------------------

/** Show the page of `state`. The control that had the focus keeps it (by its id), else a new page's content
 * takes it, so that keyboard and screen-reader users stay where they were or start at the content. */
async function render(state, { replace = false } = {}) {
  const shown = document.getElementById("main");
  const focused = document.activeElement?.id;
  if (shown) shown.dataset.ready = "false";
  const customer = account.customers.find((c) => String(c.customerid) === state.c) ?? account.customers[0];
  if (state.c !== String(customer.customerid)) {
    state = patched(state, { c: customer.customerid });
    history.replaceState(null, "", hrefFor(state));
  } else if (replace) history.replaceState(null, "", hrefFor(state));
  if (current?.customer.customerid !== customer.customerid) {
    const who = await api.get(apiUrl(`/mm-apis/whoami/${customer.customerid}`));
    current = { customer, features: new Set(who.features), plan: who.plan };
  }
  const page = pageById(state.p);
  pageRun?.abort();
  pageRun = new AbortController();
  leavePage();
  const run = ++renders;
  const main = h("main", { id: "main", tabindex: "-1", dataset: { ready: "false", page: page.id } });
  root.replaceChildren(
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, "Skip to content"),
    header(state, page),
    h("div", { class: "layout" }, navigation(state, page), main),
  );
  document.title = `${page.title} – Sightline`;
  const again = focused && focused !== "main" ? document.getElementById(focused) : null;
  if (again) again.focus();
  else if (shown) main.focus();
  await showPage(page, state, main, pageRun.signal);
  if (run === renders) {
    main.dataset.ready = "true";
    performance.mark("sightline:drawn", { detail: page.id }); // every panel drawn (bench/portal.py reads it)
  }
}

function header(state, page) {
  const customers = account.customers;
  const switcher =
    customers.length > 1
      ? h(
          "select",
          { id: "customer", "aria-label": "Customer", onchange: (e) => go(patched(pageState(state, page.hidden ? "kpis" : page.id), { c: e.target.value, f: null })) },
          customers.map((c) => h("option", { value: c.customerid, selected: c.customerid === current.customer.customerid }, `${c.name} (${c.customerid})`)),
        )
      : h("span", { class: "customer-name" }, `${current.customer.name} (${current.customer.customerid})`);
  return h(
    "header",
    { class: "topbar" },
    h("div", { class: "brand" }, "Sightline"),
    h("div", { class: "account" }, switcher, h("span", { class: "plan", id: "plan" }, `Plan: ${current.plan} (${current.customer.planlevel})`)),
    h("div", { class: "user" }, h("span", {}, session.username || account.caller.subject), h("button", { type: "button", id: "logout", onclick: logout }, "Sign out")),
    page.fixedPeriod ? h("div", { class: "controls" }, h("p", { class: "fixed-period" }, `The last 30 minutes, refreshed every 15 s · times in ${timeZone()}`)) : controls(state, page),
  );
}

async function logout() {
  pageRun?.abort();
  await session.logout();
  history.replaceState(null, "", "/");
  showLogin("You have signed out.");
}

function navigation(state, page) {
  return h(
    "nav",
    { "aria-label": "Dashboards" },
    h(
      "ul",
      {},
      PAGES.filter((p) => !p.hidden).map((p) => {
        const missing = (p.features ?? []).filter((f) => !current.features.has(f));
        return h(
          "li",
          {},
          h(
            "a",
            { href: hrefFor(pageState(state, p.id)), "aria-current": p.id === page.id || (page.id === "view" && p.id === "views") ? "page" : null },
            p.title,
            missing.length ? h("span", { class: "badge" }, " (not in plan)") : null,
          ),
        );
      }),
    ),
  );
}

function controls(state, page) {
  const period = periodOf(state);
  const range = state.range ?? DEFAULT_RANGE;
  const custom = range === "custom";
  const from = h("input", { type: "datetime-local", id: "range-from", value: toLocalInput(period.start) });
  const to = h("input", { type: "datetime-local", id: "range-to", value: toLocalInput(period.end) });
  const customForm = h(
    "form",
    {
      class: "custom-range",
      hidden: !custom,
      onsubmit: (e) => {
        e.preventDefault();
        const start = fromLocalInput(from.value);
        const end = fromLocalInput(to.value);
        if (start === null || end === null || start >= end) {
          customError.textContent = "The start must be before the end.";
          return;
        }
        go(patched(state, { range: "custom", from: start, to: end, o: null }));
      },
    },
    h("label", { for: "range-from" }, "From"),
    from,
    h("label", { for: "range-to" }, "To"),
    to,
    h("button", { type: "submit" }, "Apply"),
  );
  const customError = h("span", { class: "inline-error", role: "alert" });
  customForm.append(customError);
  const select = h(
    "select",
    {
      id: "range",
      "aria-label": "Time range",
      onchange: (e) => {
        if (e.target.value === "custom") customForm.hidden = false;
        else go(patched(state, { range: e.target.value === DEFAULT_RANGE ? null : e.target.value, from: null, to: null, o: null }));
      },
    },
    PRESETS.map((p) => h("option", { value: p.key, selected: p.key === range }, p.label)),
    h("option", { value: "custom", selected: custom }, "Custom…"),
  );
  const compare = h("input", {
    type: "checkbox",
    id: "compare",
    checked: state.cmp === "1",
    onchange: (e) => go(patched(state, { cmp: e.target.checked ? "1" : null })),
  });
  return h(
    "div",
    { class: "controls" },
    h("div", { class: "time" }, select, customForm, h("span", { class: "tz", id: "period-label" }, `${period.label} · ${timeZone()}`)),
    h("div", { class: "compare" }, compare, h("label", { for: "compare" }, "Compare with the previous period")),
    filterBar(state),
  );
}

function filterBar(state) {
  const conditions = parseFilter(state.f);
  const dimensions = account.catalog.dimensions.filter((d) => d.kind !== "time");
  const groups = [...new Set(dimensions.map((d) => d.group))];
  const field = h(
    "select",
    { id: "filter-field", "aria-label": "Filter dimension" },
    groups.map((g) => h("optgroup", { label: g }, dimensions.filter((d) => d.group === g).map((d) => h("option", { value: d.name }, d.name)))),
  );
  const op = h("select", { id: "filter-op", "aria-label": "Filter operator" }, h("option", { value: "=" }, "is"), h("option", { value: "!=" }, "is not"));
  const listId = "filter-values";
  const value = h("input", { id: "filter-value", "aria-label": "Filter value (several: separated by |)", list: listId, placeholder: "value" });
  const suggestions = h("datalist", { id: listId });
  const suggest = async () => {
    try {
      const { answer } = await customerApi(api, current.customer).metrics({
        metrics: "viewercount", aggby: field.value, period: `start=${periodOf(state).start},end=${periodOf(state).end}`, limit: 50,
      });
      suggestions.replaceChildren(...answer.response.map((row) => h("option", { value: row[field.value] })));
    } catch {
      suggestions.replaceChildren();
    }
  };
  field.addEventListener("change", suggest);
  value.addEventListener("focus", suggest, { once: true });
  const error = h("span", { class: "inline-error", role: "alert" });
  const form = h(
    "form",
    {
      class: "filter-add",
      onsubmit: (e) => {
        e.preventDefault();
        const values = value.value.split("|").map((v) => v.trim()).filter(Boolean);
        if (!values.length || values.some((v) => v.includes("]") || v.includes("["))) {
          error.textContent = "Enter a value (without [ or ]); several values separated by |.";
          return;
        }
        const kept = conditions.filter((c) => c.field !== field.value);
        go(patched(state, { f: filterText([...kept, { field: field.value, op: op.value, values }]), o: null }));
      },
    },
    field,
    op,
    value,
    suggestions,
    h("button", { type: "submit" }, "Add filter"),
    error,
  );
  const chips = conditions.map((c, i) =>
    h(
      "li",
      { class: "chip" },
      describeCondition(c),
      h(
        "button",
        {
          type: "button",
          "aria-label": `Remove filter: ${describeCondition(c)}`,
          onclick: () => go(patched(state, { f: filterText(conditions.filter((_, j) => j !== i)), o: null })),
        },
        "×",
      ),
    ),
  );
  return h("div", { class: "filters", role: "group", "aria-label": "Filters" }, h("ul", { class: "chips", id: "filter-chips" }, chips), form);
}

// --- pages ----------------------------------------------------------------------------------------------

async function showPage(page, state, main, signal) {
  const missing = (page.features ?? []).filter((f) => !current.features.has(f));
  const title = h("h1", {}, page.title);
  if (missing.length) {
    main.append(title, ...missing.map((f) => notIncluded(page.title, FEATURES[f], current.plan)));
    return;
  }
  const period = periodOf(state);
  const ctx = {
    state,
    period,
    previous: previousPeriod(period),
    comparing: state.cmp === "1",
    granularity: granularityFor(period, current.features),
    features: current.features,
    plan: current.plan,
    customer: current.customer,
    caller: account.caller,
    catalog: account.catalog,
    metric: (name) => account.catalog.metrics.find((m) => m.name === name),
    dimensionNames: account.catalog.dimensions.filter((d) => d.kind !== "time").map((d) => d.name),
    q: customerApi(api, current.customer, signal),
    signal,
    href: (patch) => hrefFor(patched(state, patch)),
    pageHref: (id, own) => hrefFor(pageState(state, id, own)),
    go: (patch) => go(patched(state, patch)),
  };
  main.append(title);
  let module;
  try {
    module = await page.load();
  } catch (error) {
    main.append(h("p", { role: "alert" }, `The page could not be loaded: ${error.message}`));
    return;
  }
  const nodes = await module.render(ctx);
  if (signal.aborted) return;
  main.append(...nodes);
  await Promise.all(nodes.map((node) => node.done).filter(Boolean));
}

// --- start ----------------------------------------------------------------------------------------------

if (session.signedIn) {
  start().catch((error) => {
    if (error instanceof SignedOutError) showLogin("Your session has ended. Sign in again.");
    else showLogin(errorText(error));
  });
} else {
  showLogin();
}
