/**
 * The production engine: the Temporal server itself (not `temporal server start-dev`), built from
 * its Go module and run on Postgres as four services in their own processes (frontend, history,
 * matching, worker), each restartable alone. The schema is set up by the server's own SQL tool in
 * two databases (`temporal`, `temporal_visibility`) of the Postgres it is given. Used by the chaos
 * run with `CHAOS_TEMPORAL=server`; README "Production" says what a real cluster needs beyond it.
 */

export {
  resolveTemporalServer,
  TEMPORAL_SERVER_MODULE,
  TEMPORAL_SERVER_VERSION,
  type ServerBinaries,
} from './temporal-server/binaries';
export { TEMPORAL_SERVICES, type TemporalService } from './temporal-server/config';
export { endpointOf, setupTemporalSchema, type PostgresEndpoint } from './temporal-server/schema';
export { startTemporalCluster, type TemporalCluster } from './temporal-server/cluster';
