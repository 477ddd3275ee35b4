// Numbers and times as the page shows them. Byte counts are BigInt strings from the API: the
// exact figure goes through BigInt, the readable one through a float (three digits are enough).
const UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
const significant = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 });

/** "2.44 MB": decimal units, as network volumes are counted. */
export function readableBytes(value) {
  let number = Number(value);
  let unit = 0;
  while (unit < UNITS.length - 1 && Number(number.toPrecision(3)) >= 1000) {
    number /= 1000;
    unit += 1;
  }
  return `${significant.format(number)} ${UNITS[unit]}`;
}

/** "2,437,733": every digit, with separators. */
export function exactNumber(value) {
  return BigInt(value).toLocaleString("en-US");
}

/** "2,437,733 bytes" / "1 event", the word agreeing with the number. */
export function counted(value, word) {
  return `${exactNumber(value)} ${word}${BigInt(value) === 1n ? "" : "s"}`;
}

const NOUNS = { HOURLY: "hour", DAILY: "day", MONTHLY: "month" };

/** "hour", "day" or "month". */
export function bucketNoun(granularity) {
  return NOUNS[granularity] ?? "bucket";
}

/** A bucket's start as written by the API, as a person reads it: its local wall time. */
export function bucketLabel(start, granularity) {
  // The API writes the zone's offset, so the local wall time is the text itself.
  const match = /^(\d{4}-\d{2})-(\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(start);
  if (!match) return start;
  const [, month, day, time, offset] = match;
  if (granularity === "MONTHLY") return month;
  if (granularity === "DAILY") return `${month}-${day}`;
  return `${month}-${day} ${time} ${offset === "Z" ? "UTC" : `UTC${offset}`}`;
}
