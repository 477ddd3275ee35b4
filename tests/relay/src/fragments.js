// Fragments as a Relay app writes them for usePaginationFragment, forward and backward: no
// default for count, since Relay replaces the null it sends back for loadPrevious by a default,
// and a page size both ways (first and last) is refused, as GitHub does.
graphql`
  fragment fragments_organizationUsage on Organization
  @refetchable(queryName: "OrganizationUsagePaginationQuery")
  @argumentDefinitions(count: {type: "Int"}, cursor: {type: "String"},
                       last: {type: "Int"}, before: {type: "String"},
                       from: {type: "DateTime!"}, to: {type: "DateTime!"}) {
    usage(from: $from, to: $to, granularity: HOURLY, first: $count, after: $cursor, last: $last,
          before: $before) @connection(key: "fragments_organizationUsage_usage") {
      edges { node { start bytesUsed eventCount } }
    }
  }
`;
graphql`
  fragment fragments_simCardUsage on SimCard
  @refetchable(queryName: "SimCardUsagePaginationQuery")
  @argumentDefinitions(count: {type: "Int"}, cursor: {type: "String"},
                       last: {type: "Int"}, before: {type: "String"},
                       from: {type: "DateTime!"}, to: {type: "DateTime!"}) {
    usage(from: $from, to: $to, granularity: HOURLY, first: $count, after: $cursor, last: $last,
          before: $before) @connection(key: "fragments_simCardUsage_usage") {
      edges { node { start bytesUsed eventCount } }
    }
  }
`;
