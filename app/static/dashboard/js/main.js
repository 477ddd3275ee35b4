// The usage dashboard: a client of the public GraphQL API (/graphql) and its CSV export only.
import { ApiError, AuthenticationRequired, exportCsv } from "./api.js";
import { IntervalError, intervalOf } from "./intervals.js";
import { currentKey, forgetKey, rememberKey } from "./key.js";
import { NotFound, loadSeries, organizationIds } from "./series.js";
import { stateOf, suggestedGranularity, urlOf } from "./state.js";
import { showBuckets, ROWS_PER_PAGE } from "./tables.js";
import {
  applyControls, clearError, controlsState, customDatesOf, fillOrganizations, fillTimeZones,
  hideResults, setState, showDashboard, showError, showKeyPrompt, showResults,
} from "./view.js";

const element = (id) => document.getElementById(id);
let state = stateOf(location.search);
let loading = null; // the AbortController of the load in flight
let shown = null; // the series on the page, for the table's pages and the download
let tableFirstRow = 0;
let refreshTimer = null;

// Every failure ends as a readable message (or the key prompt), never as an uncaught exception.
function report(error) {
  if (error?.name === "AbortError") return; // a newer load replaced this one
  if (error instanceof AuthenticationRequired) {
    const refused = currentKey() !== null;
    forgetKey(); // a key the API refuses (unknown, revoked) is no use kept
    showKeyPrompt(refused ? `The API refused the key: ${error.message}` : null);
    return;
  }
  hideResults();
  let message;
  if (error instanceof NotFound) {
    const what = state.simCard ? "SIM card" : "organization";
    message = `No ${what} “${error.message}”: it does not exist, or this API key may not see it.`;
  } else if (error instanceof ApiError || error instanceof IntervalError) {
    message = error.message;
  } else {
    message = `Something went wrong in the page: ${error?.message ?? error}`;
  }
  showError(message);
  setState("error", "");
}

function navigate(next, { push }) {
  state = { ...state, ...next };
  const url = urlOf(state);
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  applyControls(state);
  load().catch(report);
}

async function load({ keepTablePage = false } = {}) {
  loading?.abort();
  const controller = new AbortController();
  loading = controller;
  clearError();
  try {
    const interval = intervalOf(state);
    const subject = state.simCard ? "simCard" : "organization";
    const id = state.simCard ?? state.organization;
    element("results").setAttribute("aria-busy", "true");
    setState("loading", "Loading…");
    const series = await loadSeries({ subject, id, interval, granularity: state.granularity, timeZone: state.timeZone },
      controller.signal, (loaded, total) => setState("loading", `Loading ${loaded.toLocaleString("en-US")} of ` +
        `${total.toLocaleString("en-US")} buckets…`));
    if (controller !== loading) return;
    shown = series;
    const back = urlOf({ ...state, simCard: null });
    tableFirstRow = showResults(series, back, (card) => urlOf({ ...state, simCard: card }),
      keepTablePage ? tableFirstRow : 0);
    setState("ready", `Updated at ${new Date().toLocaleTimeString("en-GB")}.`);
  } finally {
    element("results").removeAttribute("aria-busy");
    if (controller === loading) loading = null;
  }
}

async function boot() {
  clearError();
  setState("loading", "Loading the organizations…");
  const ids = await organizationIds();
  showDashboard(currentKey() !== null);
  if (!state.organization && ids.length === 0) {
    hideResults();
    showError("This API key sees no organization.");
    setState("error", "");
    return;
  }
  state.organization ??= ids[0];
  fillOrganizations(ids, state.organization);
  fillTimeZones(state.timeZone);
  history.replaceState(null, "", urlOf(state));
  applyControls(state);
  await load();
}

function onControlChange(event) {
  const next = controlsState();
  if (event.target.id === "range") {
    next.granularity = suggestedGranularity(next.range, next.granularity);
    if (next.range === "custom" && shown !== null) Object.assign(next, customDatesOf(shown.interval));
  }
  // Another organization is another page (back returns); other choices refine this one.
  const push = event.target.id === "organization";
  navigate(push ? { ...next, simCard: null } : next, { push });
}

async function download() {
  if (shown === null) return;
  const parameters = {
    [shown.subject]: shown.id, from: shown.interval.from, to: shown.interval.to,
    granularity: shown.granularity, timeZone: shown.timeZone,
  };
  const button = element("download");
  button.disabled = true;
  try {
    const { blob, fileName } = await exportCsv(parameters);
    const url = URL.createObjectURL(blob);
    const link = Object.assign(document.createElement("a"), { href: url, download: fileName });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    setState(document.body.dataset.state, `Downloaded ${fileName}.`);
  } finally {
    button.disabled = false;
  }
}

function setAutoRefresh(seconds) {
  clearInterval(refreshTimer);
  refreshTimer = seconds > 0 ? setInterval(() => {
    // A hidden tab or a load in flight skips its turn.
    if (!document.hidden && loading === null && shown !== null) load({ keepTablePage: true }).catch(report);
  }, seconds * 1000) : null;
}

function bind() {
  element("controls").addEventListener("change", (event) => {
    if (event.target.id === "auto-refresh") setAutoRefresh(Number(event.target.value));
    else onControlChange(event);
  });
  element("controls").addEventListener("submit", (event) => event.preventDefault());
  element("refresh").addEventListener("click", () => load({ keepTablePage: true }).catch(report));
  element("download").addEventListener("click", () => download().catch(report));
  element("previous-rows").addEventListener("click", () => {
    tableFirstRow = showBuckets(shown, element("results-title").textContent, tableFirstRow - ROWS_PER_PAGE);
  });
  element("next-rows").addEventListener("click", () => {
    tableFirstRow = showBuckets(shown, element("results-title").textContent, tableFirstRow + ROWS_PER_PAGE);
  });
  // Links to a card's view and back: in-page navigation with a history entry each.
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("#top-cards a[data-sim-card], #back-link");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate({ simCard: link.dataset.simCard ?? null }, { push: true });
    element("results").focus();
  });
  window.addEventListener("popstate", () => {
    state = stateOf(location.search);
    applyControls(state);
    load().catch(report);
  });
  element("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = element("key-input").value.trim();
    if (!key) return;
    rememberKey(key);
    boot().catch(report);
  });
  element("forget-key").addEventListener("click", () => {
    forgetKey();
    shown = null;
    hideResults();
    boot().catch(report); // with access control on, the API's 401 brings the prompt back
  });
  window.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    report(event.reason);
  });
}

bind();
boot().catch(report);
