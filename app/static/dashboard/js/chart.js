// The series as bars (uPlot, vendored), each across its bucket's span; hovering or the arrow keys
// show a bucket's start, bytes and events. The table below is its accessible equivalent.
import { bucketLabel, bucketNoun, counted, readableBytes } from "./format.js";

const BAR_COLOUR = "#1f5fa8";
const HEIGHT = 300;
const NOMINAL_SECONDS = { HOURLY: 3600, DAILY: 86400, MONTHLY: 31 * 86400 };

let chart = null;
let shown = null; // {buckets, granularity, xs} of the chart drawn
let resizeObserver = null;

const element = (id) => document.getElementById(id);

function describe(index) {
  const bucket = shown.buckets[index];
  return `${bucketLabel(bucket.start, shown.granularity)} · ${readableBytes(bucket.bytesUsed)} · ` +
    counted(bucket.eventCount, "event");
}

function showTooltip(plot) {
  const tooltip = element("tooltip");
  const index = plot.cursor.idx;
  if (index === null || index === undefined || shown === null) {
    tooltip.hidden = true;
    return;
  }
  tooltip.textContent = describe(index);
  tooltip.hidden = false;
  // Beside the cursor, inside the figure: CSSOM properties, which the CSP allows.
  const figure = element("chart").parentElement.getBoundingClientRect();
  const over = plot.over.getBoundingClientRect();
  const left = over.left - figure.left + plot.cursor.left + 14;
  tooltip.style.left = `${Math.max(0, Math.min(left, figure.width - tooltip.offsetWidth))}px`;
}

function options(width, granularity, timeZone, range) {
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    // Local times of the chosen zone on the axis, not the browser's.
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), timeZone),
    scales: { x: { time: true, range: () => range }, y: { range: (plot, min, max) => [0, max > 0 ? max * 1.08 : 1] } },
    series: [
      {},
      {
        label: "Bytes", stroke: BAR_COLOUR, fill: BAR_COLOUR, width: 0, points: { show: false },
        paths: uPlot.paths.bars({ size: [0.86, Infinity, 1] }),
      },
    ],
    axes: [
      { stroke: "#1b1f24", grid: { stroke: "#e3e7eb" } },
      { stroke: "#1b1f24", grid: { stroke: "#e3e7eb" }, size: 72, values: (plot, ticks) => ticks.map(readableBytes) },
    ],
    cursor: { y: false, points: { show: false }, drag: { x: false, y: false } },
    hooks: { setCursor: [showTooltip] },
  };
}

function moveCursor(event) {
  if (chart === null || shown === null || shown.xs.length === 0) return;
  const steps = { ArrowLeft: -1, ArrowRight: 1, PageUp: -10, PageDown: 10 };
  const last = shown.xs.length - 1;
  let index = chart.cursor.idx ?? -1;
  if (event.key in steps) index = Math.min(last, Math.max(0, index + steps[event.key]));
  else if (event.key === "Home") index = 0;
  else if (event.key === "End") index = last;
  else return;
  event.preventDefault();
  chart.setCursor({ left: chart.valToPos(shown.xs[index], "x"), top: HEIGHT / 3 });
  element("chart-announcement").textContent = describe(index);
}

/** Draw the buckets of a loaded series, replacing the chart before. */
export function drawChart(series, title) {
  const container = element("chart");
  chart?.destroy();
  chart = null;
  const starts = series.buckets.map((bucket) => Date.parse(bucket.start) / 1000);
  const widths = starts.map((x, index) => (index + 1 < starts.length ? starts[index + 1] - x
    : (index > 0 ? x - starts[index - 1] : NOMINAL_SECONDS[series.granularity])));
  // Each bar at its bucket's middle: the cursor, which snaps to the nearest x, then reads the
  // bucket under the pointer, and the bar spans the bucket's time.
  const xs = starts.map((start, index) => start + widths[index] / 2);
  shown = { buckets: series.buckets, granularity: series.granularity, xs };
  const range = starts.length ? [starts[0], starts[starts.length - 1] + widths[widths.length - 1]] : [0, 1];
  const ys = series.buckets.map((bucket) => Number(bucket.bytesUsed));
  const width = Math.max(320, container.clientWidth - 8);
  chart = new uPlot(options(width, series.granularity, series.timeZone, range), [xs, ys], container);
  const noun = bucketNoun(series.granularity);
  container.setAttribute("aria-label", `Bar chart of ${title}: bytes used per ${noun}, ` +
    `${xs.length} bars. The table of buckets below holds the same figures.`);
  element("chart-caption").textContent = `Bytes used per ${noun} (${series.timeZone}). ` +
    "Hover over a bar, or focus the chart and use the arrow keys, to read a bucket.";
  element("tooltip").hidden = true;
  if (resizeObserver === null) {
    resizeObserver = new ResizeObserver(() => {
      const wanted = Math.max(320, container.clientWidth - 8);
      if (chart !== null && chart.width !== wanted) chart.setSize({ width: wanted, height: HEIGHT });
    });
    resizeObserver.observe(container);
    container.addEventListener("keydown", moveCursor);
    container.addEventListener("blur", () => { element("tooltip").hidden = true; });
  }
}

/** Remove the chart (an error or a key prompt replaces the results). */
export function clearChart() {
  chart?.destroy();
  chart = null;
  shown = null;
}
