// PostGraphile 5 for bench/api.py's peer (issue 11): the amber preset, production settings, a pool
// of at most 10 connections, the bench-only schema `peer` (bench/peer.py prepare_functions) over
// PEER_DATABASE_URL. Bench-only: never a runtime dependency of simusage.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const connectionString = process.env.PEER_DATABASE_URL;
if (!connectionString) throw new Error("PEER_DATABASE_URL is not set");

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({ connectionString, schemas: ["peer"], pubsub: false, poolConfig: { max: 10 } }),
  ],
  grafserv: {
    port: Number(process.env.PEER_PORT ?? 5678),
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    graphqlOverGET: false,
    watch: false,
    websockets: false,
  },
  grafast: { explain: false },
};

export default preset;
