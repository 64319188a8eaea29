import { Client, isGrpcServiceError, type Connection } from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import Table from 'cli-table3';
import { Client as PgClient } from 'pg';
import { loadConfig, type Config } from '../../common/config';
import { createDb, describeDatabaseUrl, type Knex } from '../../common/db';
import { CancelflowError } from '../../common/errors';
import { connectClient } from '../../common/temporal-connection';
import { createCancelflowClient, ValidationError, type AppScope, type CancelflowClient } from '../index';

/** The exit codes the README promises. */
export const EXIT = { ok: 0, failure: 1, input: 2, notFound: 3, conflict: 4 } as const;

let loaded: Config | undefined;

/**
 * The same environment and config file as the services; a missing file means development defaults.
 * Read once per CLI process: every command and every table asks for it.
 */
export function cliConfig(): Config {
  loaded ??= loadConfig({ allowMissingFile: true });
  return loaded;
}

function unreachable(what: string, address: string, err: unknown): CancelflowError {
  const reason = err instanceof Error ? err.message : String(err);
  return new CancelflowError('UNAVAILABLE', `cannot reach ${what} at ${address}: ${reason}`, { cause: err });
}

const isUnavailable = (err: unknown): boolean =>
  [err, err instanceof Error ? err.cause : undefined].some(
    (e) => isGrpcServiceError(e) && e.code === grpcStatus.UNAVAILABLE,
  );

export interface TemporalContext {
  client: Client;
  cancelflow: CancelflowClient;
}

/** Runs `fn` with a Temporal connection; an unreachable server is reported with its address. */
export async function withTemporal<T>(config: Config, fn: (t: TemporalContext) => Promise<T>): Promise<T> {
  const { address, namespace } = config.temporal;
  let connection: Connection;
  try {
    connection = await connectClient(config);
  } catch (err) {
    throw unreachable('Temporal', address, err);
  }
  try {
    const client = new Client({ connection, namespace });
    const cancelflow = createCancelflowClient({
      client,
      config,
      ...(config.timings ? { timings: config.timings } : {}),
    });
    return await fn({ client, cancelflow });
  } catch (err) {
    if (isUnavailable(err)) throw unreachable('Temporal', address, err);
    throw err;
  } finally {
    await connection.close();
  }
}

/**
 * Runs `fn` with the database: DATABASE_URL, else (development) the dev stack's Postgres, which
 * `npm run dev` runs (config.devDatabaseUrl; the CLI starts no server of its own). An unreachable
 * server is reported with its address (password hidden).
 */
export async function withDatabase<T>(config: Config, fn: (db: Knex) => Promise<T>): Promise<T> {
  const url = config.databaseUrl ?? config.devDatabaseUrl;
  // One plain connection first: an unreachable server is then one clear error, not knex's retries.
  const probe = new PgClient({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await probe.connect();
  } catch (err) {
    const failure = unreachable('Postgres', describeDatabaseUrl(url), err);
    if (config.databaseUrl) throw failure;
    throw new CancelflowError(
      failure.code,
      `${failure.message} (DATABASE_URL is unset: this is the dev stack's; start it with \`npm run dev\`, or set DATABASE_URL)`,
      { cause: err },
    );
  } finally {
    await probe.end().catch(() => undefined);
  }
  const db = createDb(url, { max: 2 });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : text()}\n`);
}

/** A table for people: coloured on a terminal, plain text when piped or with NO_COLOR. */
export function table(options: { head?: string[] } = {}): Table.Table {
  const colour = process.stdout.isTTY === true && !cliConfig().noColor;
  return new Table({ ...options, ...(colour ? {} : { style: { head: [], border: [] } }) });
}

export function cellText(v: string | number | boolean | object | null | undefined): string {
  return v === null || v === undefined
    ? ''
    : v instanceof Date
      ? v.toISOString()
      : typeof v === 'object'
        ? JSON.stringify(v)
        : String(v);
}

export function isoDate(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new ValidationError(field, 'must be an ISO date');
  return at;
}

export function positiveInteger(value: string, field: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(field, 'must be a positive integer');
  return n;
}

/** `--account` must name an account of the config file: a typo is an error, not an empty list. */
export function knownAccount(config: Config, account: string | undefined): string | undefined {
  if (account === undefined || config.accounts.some((a) => a.id === account)) return account;
  const known = config.accounts.map((a) => a.id).join(', ') || 'none';
  throw new ValidationError('--account', `no account "${account}" in ${config.configPath} (known: ${known})`);
}

/** The options of a command about one cancellation. */
export type Scoped = { mchNo?: string; appId?: string; json?: boolean };

/** `--mch-no` and `--app-id`: both (act only on that app's cancellation) or neither. */
export function scopeOf(o: { mchNo?: string; appId?: string }): AppScope | undefined {
  if (Boolean(o.mchNo) !== Boolean(o.appId))
    throw new ValidationError(
      o.mchNo ? '--app-id' : '--mch-no',
      'give both --mch-no and --app-id, or neither',
    );
  return o.mchNo && o.appId ? { mchNo: o.mchNo, appId: o.appId } : undefined;
}
