import { configWarnings, loadConfig } from '../common/config';
import { createDb } from '../common/db';
import { CancelflowError } from '../common/errors';
import { createLogger } from '../common/logger';
import { registerDatabaseGauges } from '../common/metrics';
import { connectClient } from '../common/temporal-connection';
import { buildServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'cancelflow-api');
  if (!config.databaseUrl) {
    throw new CancelflowError(
      'CONFIG_INVALID',
      'DATABASE_URL is not set (npm run dev starts an embedded Postgres and sets it)',
    );
  }
  for (const warning of configWarnings(config)) logger.warn(`CONFIGURATION WARNING: ${warning}`);
  if (!config.http.opsToken)
    logger.warn(
      config.api.opsOpen
        ? 'the /ops endpoints are open to anyone who reaches this API (api.opsOpen, no CANCELFLOW_OPS_TOKEN)'
        : 'the /ops endpoints refuse every request: CANCELFLOW_OPS_TOKEN is not set',
    );
  const db = createDb(config.databaseUrl);
  registerDatabaseGauges(db, { accounts: config.accounts, logger });
  const temporal = await connectClient(config);
  const app = await buildServer({ config, db, temporal, logger });
  const close = async (): Promise<void> => {
    await app.close();
    await temporal.close();
    await db.destroy();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'api stopping');
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  await app.listen({ host: config.http.host, port: config.http.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
