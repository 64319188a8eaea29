/**
 * The development stack's Postgres (`npm run dev`: an embedded server on loopback, data in the
 * checkout). Its credential is local-only: the server listens on 127.0.0.1 and holds no real data.
 * scripts/ starts it; one-off commands (the CLI) connect to it when DATABASE_URL is unset.
 */
export const DEV_PG_USER = 'postgres';
export const DEV_PG_PASSWORD = 'cancelflow-dev';
export const DEV_PG_PORT = 54329;
export const DEV_DATABASE = 'cancelflow';

/** The dev stack's database on `port` (CANCELFLOW_PG_PORT). */
export function devDatabaseUrl(port: number = DEV_PG_PORT, database: string = DEV_DATABASE): string {
  return `postgres://${DEV_PG_USER}:${DEV_PG_PASSWORD}@127.0.0.1:${port}/${database}`;
}
