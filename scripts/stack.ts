import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createDb, migrateLatest } from '../common/db';
import { isPortOpen } from './ports';
import {
  embeddedUrl,
  ensureDatabase,
  startEmbeddedPostgres,
  withDatabase,
  type RunningPostgres,
} from './postgres';

export const REPO_ROOT = path.resolve(__dirname, '..');

type Log = (line: string) => void;

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.CANCELFLOW_DATA_DIR
    ? path.resolve(env.CANCELFLOW_DATA_DIR)
    : path.join(REPO_ROOT, '.data', 'dev');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface StackDatabase {
  url: string;
  embedded?: RunningPostgres;
  stop(): Promise<void>;
}

/**
 * DATABASE_URL when set; otherwise the dev stack's persistent embedded Postgres (data in the
 * data directory, port CANCELFLOW_PG_PORT or 54329) with a `cancelflow` database.
 */
export async function openStackDatabase(env: NodeJS.ProcessEnv, log: Log): Promise<StackDatabase> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, stop: async () => undefined };
  const port = Number(env.CANCELFLOW_PG_PORT ?? 54329);
  const embedded = await startEmbeddedPostgres({
    dataDir: path.join(dataDir(env), 'postgres'),
    port,
    persistent: true,
    log,
  });
  await ensureDatabase(embedded.url, 'cancelflow');
  return { url: withDatabase(embedded.url, 'cancelflow'), embedded, stop: () => embedded.stop() };
}

export async function migrate(url: string): Promise<string[]> {
  const db = createDb(url, { max: 2 });
  try {
    return await migrateLatest(db);
  } finally {
    await db.destroy();
  }
}

/**
 * For one-off commands (migrate, reports): DATABASE_URL; else the running dev stack's Postgres;
 * else the dev stack's embedded Postgres, started for the command and stopped after it.
 */
export async function openDatabaseForCommand(
  env: NodeJS.ProcessEnv = process.env,
  log: Log = () => undefined,
): Promise<StackDatabase> {
  const port = Number(env.CANCELFLOW_PG_PORT ?? 54329);
  if (!env.DATABASE_URL && (await isPortOpen(port))) {
    return { url: withDatabase(embeddedUrl(port), 'cancelflow'), stop: async () => undefined };
  }
  return openStackDatabase(env, log);
}
