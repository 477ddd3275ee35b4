graphql`
  fragment fragments_organizationUsage on Organization
  @refetchable(queryName: "OrganizationUsagePaginationQuery")
  @argumentDefinitions(count: {type: "Int", defaultValue: 24}, cursor: {type: "String"},
                       from: {type: "DateTime!"}, to: {type: "DateTime!"}) {
    usage(from: $from, to: $to, granularity: HOURLY, first: $count, after: $cursor)
      @connection(key: "fragments_organizationUsage_usage") {
      edges { node { start bytesUsed eventCount } }
    }
  }
`;
graphql`
  fragment fragments_simCardUsage on SimCard
  @refetchable(queryName: "SimCardUsagePaginationQuery")
  @argumentDefinitions(count: {type: "Int", defaultValue: 24}, cursor: {type: "String"},
                       from: {type: "DateTime!"}, to: {type: "DateTime!"}) {
    usage(from: $from, to: $to, granularity: HOURLY, first: $count, after: $cursor)
      @connection(key: "fragments_simCardUsage_usage") {
      edges { node { start bytesUsed eventCount } }
    }
  }
`;
