import { Client, type Connection } from '@temporalio/client';
import Fastify from 'fastify';
import type { Config } from '../common/config';
import type { Knex } from '../common/db';
import type { Logger } from '../common/logger';
import rateLimit from '@fastify/rate-limit';
import { createCancelflowClient } from '../client';
import { observeApiResponse, registry } from '../common/metrics';
import type { CancellationTimings } from '../contract/cancellation';
import { callbackRoutes } from './callbacks';
import { northboundRoutes } from './northbound';
import { opsRoutes } from './ops';

export interface ApiDeps {
  config: Config;
  db: Knex;
  temporal: Connection;
  logger: Logger;
  /** Timings for the cancellations this API starts (tests, demo); production defaults otherwise. */
  timings?: Partial<CancellationTimings>;
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
    // Which X-Forwarded-For to believe for `req.ip` (rate limits, logs); none unless configured.
    trustProxy: deps.config.http.trustProxy,
  });
  app.addHook('onResponse', async (req, reply) =>
    observeApiResponse(req.method, req.routeOptions.url, reply.statusCode, reply.elapsedTime),
  );

  // Bodies stay the text that was received: signatures are verified over it and callbacks are
  // stored verbatim; each route parses JSON or form itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', 'application/x-www-form-urlencoded'],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (req, reply) => {
    const [postgres, temporal] = await Promise.all([
      probe(() => deps.db.raw('select 1')),
      probe(() => deps.temporal.workflowService.getSystemInfo({})),
    ]);
    const ready = postgres === 'ok' && temporal === 'ok';
    // Unauthenticated: why a dependency is down (its address, user, error) goes to the log only.
    if (!ready) req.log.warn({ postgres, temporal }, 'not ready');
    const shown = (probed: string) => (probed === 'ok' ? 'ok' : 'unavailable');
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      postgres: shown(postgres),
      temporal: shown(temporal),
    });
  });

  const client = new Client({ connection: deps.temporal, namespace: deps.config.temporal.namespace });
  const timings = deps.timings ?? deps.config.timings;
  const cancelflow = createCancelflowClient({ client, config: deps.config, ...(timings ? { timings } : {}) });

  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  await app.register((scope) => callbackRoutes(scope, { config: deps.config, db: deps.db, client }));
  await app.register(async (scope) => {
    await scope.register(rateLimit, { max: deps.config.api.rateLimitPerMinute, timeWindow: 60_000 });
    await northboundRoutes(scope, {
      config: deps.config,
      db: deps.db,
      cancelflow,
    });
  });
  await app.register((scope) => opsRoutes(scope, { config: deps.config, cancelflow }));

  return app;
}
