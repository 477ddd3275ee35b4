// What the page shows besides the chart and tables: the controls' values, the key prompt,
// status and error messages, and the results' headings and totals.
import { drawChart, clearChart } from "./chart.js";
import { bucketNoun, counted, readableBytes } from "./format.js";
import { describeBound, lastDayOf } from "./intervals.js";
import { showBuckets, showTopCards } from "./tables.js";

const element = (id) => document.getElementById(id);

/** Mark what the page is doing, for people (the status line) and scripts (body[data-state]). */
export function setState(state, status = "") {
  document.body.dataset.state = state;
  element("status").textContent = status;
}

export function showError(message) {
  const error = element("error");
  error.textContent = message;
  error.hidden = false;
}

export function clearError() {
  element("error").hidden = true;
  element("error").textContent = "";
}

/** The key prompt instead of the dashboard; message says why (a refused key) if anything. */
export function showKeyPrompt(message) {
  clearChart();
  element("dashboard").hidden = true;
  element("forget-key").hidden = true;
  element("key-prompt").hidden = false;
  const note = element("key-message");
  note.textContent = message ?? "";
  note.hidden = !message;
  const input = element("key-input");
  input.value = "";
  input.focus();
  setState("key", "An API key is needed.");
}

export function showDashboard(keyStored) {
  element("key-prompt").hidden = true;
  element("dashboard").hidden = false;
  element("forget-key").hidden = !keyStored;
}

function fillSelect(select, values, selected, labelOf = (value) => value) {
  const options = values.map((value) => new Option(labelOf(value), value, false, value === selected));
  select.replaceChildren(...options);
  select.value = selected;
}

/** The organization list; an id not in it (from the URL) is kept, so that its error shows. */
export function fillOrganizations(ids, selected) {
  const values = selected && !ids.includes(selected) ? [selected, ...ids] : ids;
  fillSelect(element("organization"), values, selected);
}

/** Every zone the browser knows, UTC first, and the chosen one even if the browser lacks it. */
export function fillTimeZones(selected) {
  const zones = ["UTC", ...Intl.supportedValuesOf("timeZone").filter((zone) => zone !== "UTC")];
  if (!zones.includes(selected)) zones.unshift(selected);
  fillSelect(element("time-zone"), zones, selected, (zone) => zone.replaceAll("_", " "));
}

/** Put a view's choices into the controls. */
export function applyControls(state) {
  element("organization").value = state.organization ?? "";
  element("range").value = state.range;
  element("granularity").value = state.granularity;
  if (element("time-zone").value !== state.timeZone) fillTimeZones(state.timeZone);
  element("from-date").value = state.from ?? "";
  element("through-date").value = state.through ?? "";
  for (const control of document.querySelectorAll("[data-custom]")) control.hidden = state.range !== "custom";
}

/** The choices the controls hold now. */
export function controlsState() {
  return {
    organization: element("organization").value || null,
    range: element("range").value,
    granularity: element("granularity").value,
    timeZone: element("time-zone").value,
    from: element("from-date").value || null,
    through: element("through-date").value || null,
  };
}

/** The custom dates that cover an interval shown, for when a person switches to Custom. */
export function customDatesOf(interval) {
  const date = (bound) => bound.slice(0, 10);
  return { from: date(interval.from), through: interval.to.includes("T") ? date(interval.to) : lastDayOf(interval.to) };
}

function titleOf(series) {
  return series.subject === "simCard" ? `SIM card ${series.id}` : `organization ${series.id}`;
}

/** The results of a loaded series: headings, totals, chart and tables. Returns the table's first row. */
export function showResults(series, backHref, topHrefOf, tableFirstRow = 0) {
  const results = element("results");
  const title = titleOf(series);
  Object.assign(results.dataset, {
    subject: series.subject, id: series.id, from: series.interval.from, to: series.interval.to,
    granularity: series.granularity, timeZone: series.timeZone,
  });
  const card = series.subject === "simCard";
  element("results-title").textContent = card && series.owner ? `${title} (organization ${series.owner})` : title;
  element("back").hidden = !card;
  element("back-link").href = backHref;
  element("interval").textContent = `From ${describeBound(series.interval.from, series.timeZone)} to ` +
    `${describeBound(series.interval.to, series.timeZone)} (end excluded), ${series.timeZone}, ` +
    `${series.totals.count.toLocaleString("en-US")} ${bucketNoun(series.granularity)}${series.totals.count === 1 ? "" : "s"}.`;
  const total = element("total");
  const strong = document.createElement("strong");
  strong.id = "total-readable";
  strong.textContent = readableBytes(series.totals.bytes);
  const exact = document.createElement("span");
  exact.id = "total-exact";
  exact.textContent = counted(series.totals.bytes, "byte");
  const events = document.createElement("span");
  events.id = "total-events";
  events.textContent = counted(series.totals.events, "event");
  total.replaceChildren("Total ", strong, " (", exact, ") in ", events, ".");
  element("empty").hidden = BigInt(series.totals.events) !== 0n;
  element("top-cards-section").hidden = card || series.top === null;
  if (!card && series.top !== null) showTopCards(series.top, topHrefOf);
  results.hidden = false;
  drawChart(series, title);
  return showBuckets(series, title, tableFirstRow);
}

export function hideResults() {
  clearChart();
  element("results").hidden = true;
}
