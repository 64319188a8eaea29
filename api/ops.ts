import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CancelflowClient } from '../client';
import type { Config } from '../common/config';
import { CancelflowError } from '../common/errors';

/**
 * Ops endpoints: inspect a cancellation, list them, redeliver a notification. Protected by
 * `CANCELFLOW_OPS_TOKEN` (Bearer); without a token they answer loopback clients only.
 */
export async function opsRoutes(
  app: FastifyInstance,
  deps: { config: Config; cancelflow: CancelflowClient },
) {
  const allowed = (req: FastifyRequest): boolean => {
    const token = deps.config.http.opsToken?.reveal();
    if (!token) return req.ip === '127.0.0.1' || req.ip === '::1' || req.ip === '::ffff:127.0.0.1';
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  app.addHook('onRequest', async (req, reply) => {
    if (!allowed(req)) return reply.code(401).send({ error: 'UNAUTHORIZED', message: 'ops token required' });
  });
  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, _req, reply) => {
    if (err instanceof CancelflowError) {
      const status = err.code === 'NOT_FOUND' ? 404 : err.code === 'DELIVERING' ? 409 : 400;
      return reply.code(status).send({ error: err.code, message: err.message });
    }
    return reply.code(err.statusCode ?? 500).send({ error: err.code ?? 'ERROR', message: err.message });
  });

  // `?mchNo=&appId=` scopes the read to one app: another app's cancellation is "not found".
  app.get<{ Params: { id: string }; Querystring: { mchNo?: string; appId?: string } }>(
    '/ops/cancellations/:id',
    async (req) => {
      const { mchNo, appId } = req.query;
      if (Boolean(mchNo) !== Boolean(appId))
        throw new CancelflowError('INVALID_REQUEST', 'give both mchNo and appId, or neither');
      return deps.cancelflow.getCancellation(req.params.id, mchNo && appId ? { mchNo, appId } : undefined);
    },
  );
  app.get<{ Querystring: { status?: string; account?: string; mchNo?: string; limit?: string } }>(
    '/ops/cancellations',
    async (req) =>
      deps.cancelflow.listCancellations({
        ...(req.query.status ? { status: req.query.status as never } : {}),
        ...(req.query.account ? { account: req.query.account } : {}),
        ...(req.query.mchNo ? { mchNo: req.query.mchNo } : {}),
        limit: Math.min(Number(req.query.limit ?? 100) || 100, 1000),
      }),
  );
  app.post<{ Params: { cancelOrderId: string } }>(
    '/ops/notifications/:cancelOrderId/redeliver',
    async (req, reply) =>
      reply.code(202).send(await deps.cancelflow.redeliverNotification(req.params.cancelOrderId)),
  );
}
