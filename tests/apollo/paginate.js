// Apollo Client 3 as frontends configure it: automatic persisted queries (createPersistedQueryLink)
// over an HttpLink, and an InMemoryCache whose usage field pages with relayStylePagination.
// Pages a series with fetchMore, forward (after) or backward (before), and prints the merged
// edges of the watched query, and what each request sent (a hash only, or the document too).
//
//   node paginate.js '{"url": ..., "organization": ..., "from": ..., "to": ..., "size": 24,
//                      "backward": false}'
"use strict";

const crypto = require("crypto");
const {ApolloClient, HttpLink, InMemoryCache, gql} = require("@apollo/client/core");
const {createPersistedQueryLink} = require("@apollo/client/link/persisted-queries");
const {relayStylePagination} = require("@apollo/client/utilities");

const USAGE = gql`
  query Usage($id: ID!, $from: DateTime!, $to: DateTime!, $first: Int, $after: String,
              $last: Int, $before: String) {
    organization(id: $id) {
      id
      usage(from: $from, to: $to, granularity: HOURLY, first: $first, after: $after, last: $last,
            before: $before) {
        edges { cursor node { start bytesUsed eventCount } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`;

async function main() {
  const options = JSON.parse(process.argv[2]);
  const sent = [];
  const recordingFetch = async (uri, init) => {
    const body = JSON.parse(init.body);
    sent.push({withQuery: typeof body.query === "string",
               withHash: Boolean(body.extensions && body.extensions.persistedQuery)});
    return fetch(uri, init);
  };
  const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");
  const link = createPersistedQueryLink({sha256}).concat(
    new HttpLink({uri: `${options.url}/graphql`, fetch: recordingFetch}));
  const cache = new InMemoryCache({typePolicies: {
    Organization: {fields: {usage: relayStylePagination(["from", "to", "granularity"])}},
  }});
  const client = new ApolloClient({link, cache});
  const variables = {id: options.organization, from: options.from, to: options.to};
  const size = options.backward ? {last: options.size} : {first: options.size};
  const observable = client.watchQuery({query: USAGE, variables: {...variables, ...size}});
  let result = await observable.result();
  for (let page = 0; page < 100; page += 1) {
    const info = result.data.organization.usage.pageInfo;
    const more = options.backward ? info.hasPreviousPage : info.hasNextPage;
    if (!more) break;
    const cursor = options.backward ? {before: info.startCursor} : {after: info.endCursor};
    await observable.fetchMore({variables: cursor});
    result = observable.getCurrentResult();  // the pages merged by relayStylePagination
  }
  const merged = result.data;
  const edges = merged.organization.usage.edges.map((edge) => ({node: {
    start: edge.node.start, bytesUsed: edge.node.bytesUsed, eventCount: edge.node.eventCount,
  }}));
  process.stdout.write(JSON.stringify({edges, sent}));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
