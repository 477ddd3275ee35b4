// The dashboard's only ways to the server: the public GraphQL API and the CSV export, both with
// the tab's API key. Failures become errors with a message a person can read.
import { currentKey } from "./key.js";

const GRAPHQL_PATH = "/graphql";
const EXPORT_PATH = "/export/usage.csv";
const MAX_RETRIES_AFTER_429 = 3;

/** The API answered 401: the page asks for a key. */
export class AuthenticationRequired extends Error {}

/** The API refused or failed; code is the GraphQL error's extensions.code where it has one. */
export class ApiError extends Error {
  constructor(message, code = null) {
    super(message);
    this.code = code;
  }
}

function headers(extra) {
  const key = currentKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

const sleep = (milliseconds, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, milliseconds);
  signal?.addEventListener("abort", () => {
    clearTimeout(timer);
    reject(signal.reason);
  }, { once: true });
});

async function messageOf(response) {
  const text = await response.text();
  try {
    const errors = JSON.parse(text).errors;
    if (Array.isArray(errors) && errors.length) return errors.map((error) => error.message).join("; ");
  } catch {
    // not JSON: the export's refusals are plain text
  }
  return text.trim() || `HTTP ${response.status}`;
}

// One request, waiting out the rate limit's Retry-After a few times rather than failing at once.
async function send(url, options, signal) {
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(url, { ...options, signal, credentials: "omit", cache: "no-store" });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(`The API cannot be reached (${error.message}).`, "NETWORK");
    }
    if (response.status === 401) throw new AuthenticationRequired(await messageOf(response));
    if (response.status !== 429 || attempt === MAX_RETRIES_AFTER_429) return response;
    const seconds = Math.min(Number(response.headers.get("Retry-After")) || 1, 10);
    await sleep(seconds * 1000, signal);
  }
}

/** The data of a GraphQL query; any GraphQL error is an ApiError with its message. */
export async function graphql(query, variables, signal) {
  // Plain application/json: GraphQL errors come with HTTP 200, not as failed loads in the console.
  const response = await send(GRAPHQL_PATH, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "application/json" }),
    body: JSON.stringify({ query, variables }),
  }, signal);
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The API answered HTTP ${response.status} without a GraphQL response.`);
  }
  if (Array.isArray(body.errors) && body.errors.length) {
    const message = body.errors.map((error) => error.message).join("; ");
    throw new ApiError(message, body.errors[0].extensions?.code ?? null);
  }
  if (!response.ok || !body.data) throw new ApiError(`The API answered HTTP ${response.status}.`);
  return body.data;
}

function fileNameOf(response, fallback) {
  const disposition = response.headers.get("Content-Disposition") ?? "";
  return /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallback;
}

/** The CSV of a series as a Blob and its file name; a link could not carry the key's header. */
export async function exportCsv(parameters, signal) {
  const query = new URLSearchParams(parameters);
  const response = await send(`${EXPORT_PATH}?${query}`, { headers: headers({ Accept: "text/csv" }) }, signal);
  if (!response.ok) throw new ApiError(`The export was refused: ${await messageOf(response)}`);
  return { blob: await response.blob(), fileName: fileNameOf(response, "usage.csv") };
}
