// What the page shows lives in its URL (?organization=...&range=...), so that a view can be
// bookmarked and the browser's back button returns to the one before.
const RANGES = ["last24h", "last7d", "thisMonth", "lastMonth", "custom"];
const GRANULARITIES = ["HOURLY", "DAILY", "MONTHLY"];
const DEFAULTS = { range: "last7d", granularity: "DAILY" };

/** The zone the browser runs in (UTC if it cannot say). */
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** The view a URL's search part names; anything missing or unknown takes its default. */
export function stateOf(search) {
  const parameters = new URLSearchParams(search);
  const pick = (name, allowed) => {
    const value = parameters.get(name);
    return allowed.includes(value) ? value : DEFAULTS[name];
  };
  return {
    organization: parameters.get("organization"),
    simCard: parameters.get("simCard"),
    range: pick("range", RANGES),
    granularity: pick("granularity", GRANULARITIES),
    timeZone: parameters.get("timeZone") || browserZone(),
    from: parameters.get("from"),
    through: parameters.get("through"),
  };
}

/** The URL (path and search) of a view. */
export function urlOf(state) {
  const parameters = new URLSearchParams();
  for (const name of ["organization", "simCard", "range", "granularity", "timeZone"]) {
    if (state[name]) parameters.set(name, state[name]);
  }
  if (state.range === "custom") {
    for (const name of ["from", "through"]) if (state[name]) parameters.set(name, state[name]);
  }
  return `/?${parameters}`;
}

/** The granularity that suits a preset interval, for when a person picks one. */
export function suggestedGranularity(range, current) {
  if (range === "last24h" || range === "last7d") return "HOURLY";
  if (range === "thisMonth" || range === "lastMonth") return "DAILY";
  return current;
}
