// The tables: the buckets (the chart's accessible equivalent, a page of rows at a time so that
// a year of hours stays quick to show) and the top SIM cards, each a link to its own view.
import { bucketLabel, bucketNoun, exactNumber, readableBytes } from "./format.js";

export const ROWS_PER_PAGE = 500;

const element = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Show rows [first, first + ROWS_PER_PAGE) of the series' buckets; returns the first shown. */
export function showBuckets(series, title, first = 0) {
  const buckets = series.buckets;
  const start = Math.max(0, Math.min(first, Math.floor(Math.max(0, buckets.length - 1) / ROWS_PER_PAGE) * ROWS_PER_PAGE));
  const end = Math.min(buckets.length, start + ROWS_PER_PAGE);
  const body = document.createElement("tbody");
  for (const bucket of buckets.slice(start, end)) {
    const row = body.insertRow();
    const time = document.createElement("time");
    time.dateTime = bucket.start;
    time.textContent = bucketLabel(bucket.start, series.granularity);
    row.insertCell().append(time);
    cell(row, readableBytes(bucket.bytesUsed), "number");
    cell(row, exactNumber(bucket.bytesUsed), "number");
    cell(row, exactNumber(bucket.eventCount), "number");
  }
  element("buckets").tBodies[0].replaceWith(body);
  const range = buckets.length ? `rows ${start + 1}–${end} of ${buckets.length.toLocaleString("en-US")}` : "no rows";
  element("buckets-caption").textContent = `Usage per ${bucketNoun(series.granularity)} of ${title} ` +
    `(${series.timeZone}), ${range}.`;
  element("rows-shown").textContent = range;
  element("previous-rows").disabled = start === 0;
  element("next-rows").disabled = end >= buckets.length;
  element("previous-rows").parentElement.hidden = buckets.length <= ROWS_PER_PAGE;
  return start;
}

/** The top cards of an organization's series; hrefOf(cardId) is the URL of a card's view. */
export function showTopCards(top, hrefOf) {
  const body = document.createElement("tbody");
  top.edges.forEach((edge, index) => {
    const row = body.insertRow();
    cell(row, String(index + 1));
    const link = document.createElement("a");
    link.href = hrefOf(edge.node.simCard.id);
    link.dataset.simCard = edge.node.simCard.id;
    link.textContent = edge.node.simCard.id;
    row.insertCell().append(link);
    cell(row, readableBytes(edge.node.bytesUsed), "number");
    cell(row, exactNumber(edge.node.bytesUsed), "number");
    cell(row, exactNumber(edge.node.eventCount), "number");
  });
  element("top-cards").tBodies[0].replaceWith(body);
  element("top-cards").hidden = top.edges.length === 0;
  element("top-cards-empty").hidden = top.edges.length > 0;
  const more = top.totalCount > top.edges.length ? ` (${top.edges.length} of ${top.totalCount} with usage)` : "";
  element("top-cards-title").textContent = `Top SIM cards${more}`;
}
