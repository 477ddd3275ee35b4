// Starts GraphiQL on the page served at /graphql (a file, not inline: see index.html).
const EXAMPLE_QUERY = `# simusage. Intervals are half-open: [from, to).
# With access control on, open Headers below and enter
# {"Authorization": "Bearer <your API key>"}
# The demo data (make up) is the reference producer's: February 2020.
query DailyUsageOfOrganization {
  organization(id: "f00ff") {
    usage(from: "2020-02-10", to: "2020-02-13", granularity: DAILY) {
      totalBytesUsed
      edges { node { start bytesUsed eventCount } }
    }
  }
}
`;
const url = window.location.href.split("?")[0];
// Subscriptions over graphql-transport-ws on the same path; the headers editor's
// {"Authorization": "Bearer <key>"} becomes the connection_init payload, where the server
// reads the key (a browser cannot set headers on a WebSocket).
const subscriptionUrl = url.replace(/^http/, "ws");
const fetcher = GraphiQL.createFetcher({ url, subscriptionUrl });
const explorer = GraphiQLPluginExplorer.explorerPlugin();
const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: EXAMPLE_QUERY,
    plugins: [explorer],
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false, // an API key is a secret: not kept in localStorage
    defaultEditorToolsVisibility: true,
  }),
);
