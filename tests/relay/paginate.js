// Pages a usage connection as usePaginationFragment does, without React: relay-runtime sends the
// refetch query relay-compiler generated, page after page (loadNext: count/cursor; loadPrevious:
// last/before, the other pair null), and the connection handler merges the pages in the store.
// Prints the merged edges read through the fragment, and the requests sent.
//
//   node paginate.js '{"url": ..., "artifacts": ..., "query": ..., "fragment": ...,
//                      "nodeId": ..., "from": ..., "to": ..., "size": 24, "backward": false}'
"use strict";

const path = require("path");
const {
  Environment, Network, RecordSource, Store, createOperationDescriptor, fetchQuery, getRequest,
  getSingularSelector,
} = require("relay-runtime");

async function main() {
  const options = JSON.parse(process.argv[2]);
  const query = require(path.join(options.artifacts, `${options.query}.graphql.js`));
  const fragment = require(path.join(options.artifacts, `${options.fragment}.graphql.js`));
  let requests = 0;
  let last = null;  // the last response, shown if the store cannot answer
  const network = Network.create(async (operation, variables) => {
    requests += 1;
    const response = await fetch(`${options.url}/graphql`, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/graphql-response+json"},
      body: JSON.stringify({query: operation.text, variables}),
    });
    last = await response.json();
    return last;
  });
  // A Relay app with nodeInterfaceIdField "nodeId" identifies records by it, as here.
  const environment = new Environment({
    network, store: new Store(new RecordSource()), getDataID: (value) => value.nodeId,
  });
  const base = {nodeId: options.nodeId, from: options.from, to: options.to};
  let cursor = null;
  let usage = null;
  for (let page = 0; page < 100; page += 1) {
    const variables = options.backward
      ? {...base, count: null, cursor: null, last: options.size, before: cursor}
      : {...base, count: options.size, cursor, last: null, before: null};
    const operation = createOperationDescriptor(getRequest(query), variables);
    environment.retain(operation);  // what a mounted component does: the store keeps its data
    await fetchQuery(environment, query, variables).toPromise();
    const root = environment.lookup(operation.fragment).data;
    if (!root || !root.node) throw new Error(`no node in the store; response: ${JSON.stringify(last)}`);
    usage = environment.lookup(getSingularSelector(fragment, root.node)).data.usage;
    const pageInfo = usage.pageInfo;
    const more = options.backward ? pageInfo.hasPreviousPage : pageInfo.hasNextPage;
    if (!more) break;
    cursor = options.backward ? pageInfo.startCursor : pageInfo.endCursor;
  }
  const edges = usage.edges.map((edge) => ({node: {
    start: edge.node.start, bytesUsed: edge.node.bytesUsed, eventCount: edge.node.eventCount,
  }}));
  process.stdout.write(JSON.stringify({edges, requests}));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
