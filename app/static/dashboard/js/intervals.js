// The interval's bounds as the API reads them: local dates (midnights) in the chosen zone, or
// whole UTC hours, aligned outward to the granularity so that the API never refuses them.
const HOUR = 3_600_000;
const formatters = new Map();

/** A bound the page cannot compute (an unknown zone, a custom interval backwards). */
export class IntervalError extends Error {}

function formatter(zone, withTime) {
  const name = `${zone} ${withTime}`;
  if (!formatters.has(name)) {
    const fields = { year: "numeric", month: "2-digit", day: "2-digit" };
    if (withTime) Object.assign(fields, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    try {
      formatters.set(name, new Intl.DateTimeFormat("en-CA", { timeZone: zone, ...fields }));
    } catch {
      throw new IntervalError(`Unknown time zone “${zone}”: choose one from the list.`);
    }
  }
  return formatters.get(name);
}

function partsOf(instant, zone, withTime) {
  const parts = {};
  for (const part of formatter(zone, withTime).formatToParts(instant)) parts[part.type] = part.value;
  return parts;
}

/** The calendar date {year, month, day} of an instant (milliseconds) in zone. */
export function localDate(instant, zone) {
  const parts = partsOf(instant, zone, false);
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day) };
}

/** "YYYY-MM-DD HH:MM", the wall time of an instant in zone. */
export function wallTime(instant, zone) {
  const parts = partsOf(instant, zone, true);
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

// Calendar arithmetic on dates alone, through UTC, where no clock change can shift a day.
function shifted(date, days = 0, months = 0) {
  const moved = new Date(Date.UTC(date.year, date.month - 1 + months, date.day + days));
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

const monthStart = (date, months = 0) => shifted({ ...date, day: 1 }, 0, months);
const pad = (number, width = 2) => String(number).padStart(width, "0");

/** "YYYY-MM-DD". */
export function isoDate(date) {
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}

/** The date of "YYYY-MM-DD", or null. */
export function parseIsoDate(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text ?? "");
  if (!match) return null;
  const date = { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
  return isoDate(shifted(date)) === text ? date : null; // 2022-02-30 is no date
}

const utcHour = (instant) => `${new Date(instant).toISOString().slice(0, 13)}:00:00Z`;

/** {from, to} of the chosen interval, half-open, as the API takes them with timeZone. */
export function intervalOf(choice, now = Date.now()) {
  const { range, granularity, timeZone } = choice;
  if (range === "last24h" && granularity === "HOURLY") {
    // Whole UTC hours are whole local hours in every zone the API accepts; the current hour
    // is the last bucket, so that fresh usage shows.
    const end = Math.floor(now / HOUR) * HOUR + HOUR;
    return { from: utcHour(end - 24 * HOUR), to: utcHour(end) };
  }
  const today = localDate(now, timeZone);
  let start;
  let end;
  if (range === "last24h") {
    [start, end] = [localDate(now - 24 * HOUR, timeZone), shifted(today, 1)];
  } else if (range === "last7d") {
    [start, end] = [shifted(today, -6), shifted(today, 1)];
  } else if (range === "thisMonth") {
    [start, end] = [monthStart(today), monthStart(today, 1)];
  } else if (range === "lastMonth") {
    [start, end] = [monthStart(today, -1), monthStart(today)];
  } else if (range === "custom") {
    start = parseIsoDate(choice.from);
    const last = parseIsoDate(choice.through);
    if (!start || !last) throw new IntervalError("Choose the first and the last day of the custom interval.");
    if (isoDate(last) < isoDate(start)) throw new IntervalError("The custom interval ends before it starts.");
    end = shifted(last, 1);
  } else {
    throw new IntervalError(`Unknown interval “${range}”.`);
  }
  if (granularity === "MONTHLY") {
    start = monthStart(start);
    if (end.day !== 1) end = monthStart(end, 1);
  }
  return { from: isoDate(start), to: isoDate(end) };
}

/** A bound as a person reads it in zone: "2022-02-09 00:00". */
export function describeBound(bound, zone) {
  return bound.includes("T") ? wallTime(Date.parse(bound), zone) : `${bound} 00:00`;
}

/** The inclusive last day of an interval that ends at a local midnight "YYYY-MM-DD". */
export function lastDayOf(bound) {
  const date = parseIsoDate(bound);
  return date ? isoDate(shifted(date, -1)) : null;
}
