import { Client, type Connection } from '@temporalio/client';
import Fastify from 'fastify';
import type { Config } from '../common/config';
import type { Knex } from '../common/db';
import type { Logger } from '../common/logger';
import { callbackRoutes } from './callbacks';

export interface ApiDeps {
  config: Config;
  db: Knex;
  temporal: Connection;
  logger: Logger;
}

async function probe(check: () => Promise<unknown>, timeoutMs = 2_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

export async function buildServer(deps: ApiDeps) {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.config.api.bodyLimitBytes,
  });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_req, reply) => {
    const [postgres, temporal] = await Promise.all([
      probe(() => deps.db.raw('select 1')),
      probe(() => deps.temporal.workflowService.getSystemInfo({})),
    ]);
    const ready = postgres === 'ok' && temporal === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', postgres, temporal });
  });

  const client = new Client({ connection: deps.temporal, namespace: deps.config.temporal.namespace });
  await app.register((scope) => callbackRoutes(scope, { config: deps.config, db: deps.db, client }));

  return app;
}
