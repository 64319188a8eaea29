import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CancelflowClient } from '../client';
import type { Config } from '../common/config';
import { CancelflowError } from '../common/errors';

/**
 * Ops endpoints: inspect a cancellation, list them, redeliver a notification. They need
 * `Authorization: Bearer <CANCELFLOW_OPS_TOKEN>`; without a token configured they refuse every
 * request, unless the config opens them (`api.opsOpen`). The client's address decides nothing: behind
 * a reverse proxy on the same host every request comes from loopback.
 */
export async function opsRoutes(
  app: FastifyInstance,
  deps: { config: Config; cancelflow: CancelflowClient },
) {
  const token = deps.config.http.opsToken?.reveal();
  const expected = token === undefined ? undefined : Buffer.from(`Bearer ${token}`);
  const refusal = (req: FastifyRequest): string | undefined => {
    if (!expected)
      return deps.config.api.opsOpen
        ? undefined
        : 'ops endpoints are closed: set CANCELFLOW_OPS_TOKEN and send "Authorization: Bearer <token>" ' +
            '(or open them with api.opsOpen in the config)';
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected)
      ? undefined
      : 'ops token required: send "Authorization: Bearer <CANCELFLOW_OPS_TOKEN>"';
  };
  app.addHook('onRequest', async (req, reply) => {
    const message = refusal(req);
    if (message) return reply.code(401).send({ error: 'UNAUTHORIZED', message });
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
