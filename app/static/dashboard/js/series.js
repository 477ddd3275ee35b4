// The GraphQL questions the dashboard asks: the organizations a key sees, and a series paged
// through its connection (first/after) until pageInfo says there is no more.
import { ApiError, graphql } from "./api.js";

// The API's largest page. A request costs about a node per bucket, far below its node and cost
// budgets (100,000 and 25,000 by default); a server configured tighter answers TOO_MANY_NODES or
// QUERY_TOO_COSTLY, and the page size is halved until it passes.
const PAGE_SIZE = 1000;
const SMALLEST_PAGE = 25;
const SHRINK_CODES = ["TOO_MANY_NODES", "QUERY_TOO_COSTLY"];
// As many buckets as the export serves by default: a series longer than this is better asked
// with a coarser granularity than drawn.
export const MAX_BUCKETS = 100_000;
export const TOP_CARDS = 10;

const ORGANIZATIONS = `query DashboardOrganizations($after: String) {
  organizations(first: 1000, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id } }
  }
}`;

const USAGE_FIELDS = `usage(from: $from, to: $to, granularity: $granularity, timeZone: $timeZone,
                          first: $first, after: $after) {
      totalCount @include(if: $firstPage)
      totalBytesUsed @include(if: $firstPage)
      totalEventCount @include(if: $firstPage)
      pageInfo { hasNextPage endCursor }
      edges { node { start bytesUsed eventCount } }
    }`;
const VARIABLES = `$id: ID!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!,
  $timeZone: String!, $first: Int!, $after: String, $firstPage: Boolean!`;

const ORGANIZATION_USAGE = `query DashboardOrganizationUsage(${VARIABLES}) {
  organization(id: $id) {
    id
    ${USAGE_FIELDS}
    topSimCards(from: $from, to: $to, timeZone: $timeZone, first: ${TOP_CARDS}) @include(if: $firstPage) {
      totalCount
      edges { node { simCard { id } bytesUsed eventCount } }
    }
  }
}`;

const SIM_CARD_USAGE = `query DashboardSimCardUsage(${VARIABLES}) {
  simCard(id: $id) {
    id
    organization { id }
    ${USAGE_FIELDS}
  }
}`;

/** The ids of every organization the key may see (one for a scoped key). */
export async function organizationIds(signal) {
  const ids = [];
  let after = null;
  do {
    const { organizations } = await graphql(ORGANIZATIONS, { after }, signal);
    ids.push(...organizations.edges.map((edge) => edge.node.id));
    after = organizations.pageInfo.hasNextPage ? organizations.pageInfo.endCursor : null;
  } while (after !== null);
  return ids;
}

/** The card or organization that does not exist, or that the key may not see. */
export class NotFound extends Error {}

async function page(query, variables, signal) {
  for (let first = PAGE_SIZE; ; first = Math.max(SMALLEST_PAGE, Math.floor(first / 2))) {
    try {
      return await graphql(query, { ...variables, first }, signal);
    } catch (error) {
      if (!(error instanceof ApiError) || !SHRINK_CODES.includes(error.code) || first === SMALLEST_PAGE) throw error;
    }
  }
}

/**
 * The whole series of a subject ("organization" or "simCard"), every page, with its totals and
 * (for an organization) its top cards. onProgress(loaded, total) after each page.
 */
export async function loadSeries({ subject, id, interval, granularity, timeZone }, signal, onProgress) {
  const query = subject === "simCard" ? SIM_CARD_USAGE : ORGANIZATION_USAGE;
  const variables = { id, from: interval.from, to: interval.to, granularity, timeZone };
  const result = { subject, id, interval, granularity, timeZone, buckets: [], owner: null, top: null };
  let after = null;
  for (;;) {
    const data = await page(query, { ...variables, after, firstPage: after === null }, signal);
    const node = data[subject];
    if (node === null) throw new NotFound(id);
    const usage = node.usage;
    if (after === null) {
      result.totals = { count: usage.totalCount, bytes: usage.totalBytesUsed, events: usage.totalEventCount };
      result.owner = node.organization?.id ?? null;
      result.top = node.topSimCards ?? null;
      if (usage.totalCount > MAX_BUCKETS) {
        throw new ApiError(`This interval has ${usage.totalCount.toLocaleString("en-US")} buckets; the ` +
          `dashboard draws at most ${MAX_BUCKETS.toLocaleString("en-US")}: choose a coarser ` +
          "granularity or a shorter interval.", "TOO_MANY_BUCKETS");
      }
    }
    for (const edge of usage.edges) result.buckets.push(edge.node);
    onProgress?.(result.buckets.length, result.totals.count);
    if (!usage.pageInfo.hasNextPage) return result;
    after = usage.pageInfo.endCursor;
  }
}
