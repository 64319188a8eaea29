import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { configWarnings, loadConfig } from '../common/config';
import { createDb, describeDatabaseUrl } from '../common/db';
import { CancelflowError } from '../common/errors';
import { createLogger } from '../common/logger';
import { registerDatabaseGauges } from '../common/metrics';
import { Client } from '@temporalio/client';
import { ensureReconciliationSchedule } from '../client/schedules';
import { connectClient, connectWorker } from '../common/temporal-connection';
import { createReconcileWorkers, createWorker, workerOverrides } from './create-worker';
import { startMetricsServer } from './metrics-server';
import { PinoTemporalLogger } from './temporal-logger';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'cancelflow-worker');
  if (!config.databaseUrl) {
    throw new CancelflowError(
      'CONFIG_INVALID',
      'DATABASE_URL is not set (npm run dev starts an embedded Postgres and sets it)',
    );
  }
  for (const warning of configWarnings(config)) logger.warn(`CONFIGURATION WARNING: ${warning}`);
  // /metrics on config.metrics.host:port (0 = off); the SDK's own exporter listens on loopback
  // config.metrics.sdkPort and is folded into it.
  const { host: metricsHost, port: metricsPort, sdkPort: sdkMetricsPort } = config.metrics;
  Runtime.install({
    logger: new PinoTemporalLogger(logger),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(metricsPort > 0
        ? {
            metrics: {
              prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` },
              metricPrefix: 'temporal_',
            },
          }
        : {}),
    },
  });
  const metrics =
    metricsPort > 0
      ? await startMetricsServer({
          host: metricsHost,
          port: metricsPort,
          sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
        })
      : undefined;
  if (metrics) logger.info({ url: metrics.url }, 'worker metrics');
  const db = createDb(config.databaseUrl, { max: 20 });
  registerDatabaseGauges(db, { accounts: config.accounts, logger });
  const connection = await connectWorker(config);
  const clientConnection = await connectClient(config);
  try {
    const temporal = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
    const deps = { db, config, logger };
    const common = {
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps,
    };
    const worker = await createWorker({
      ...common,
      benchWorkflows: config.benchWorkflows,
      ...(config.workflowBundlePath ? { workflowBundle: { codePath: config.workflowBundlePath } } : {}),
      overrides: workerOverrides(config.worker),
    });
    const reconcileWorkers = await createReconcileWorkers(common);
    const scheduleId = await ensureReconciliationSchedule(temporal, {
      taskQueue: config.temporal.taskQueue,
      cron: config.reconciliation.cron,
      timeZone: config.reconciliation.timeZone,
      staleAfterHours: config.reconciliation.staleAfterHours,
    });
    logger.info(
      { scheduleId, cron: config.reconciliation.cron, timeZone: config.reconciliation.timeZone },
      'reconciliation schedule',
    );
    logger.info(
      {
        temporal: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        database: describeDatabaseUrl(config.databaseUrl),
      },
      'worker started',
    );
    // Resolves after SIGINT/SIGTERM once running activities have finished (or the grace time ran out).
    await Promise.all([worker.run(), ...reconcileWorkers.map((w) => w.run())]);
    logger.info('worker stopped');
  } finally {
    await connection.close();
    await clientConnection.close();
    await db.destroy();
    await metrics?.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
