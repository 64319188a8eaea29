import type { FastifyInstance } from 'fastify';
import { ValidationError, type CancelflowClient } from '../client';
import { CancelflowError } from '../common/errors';
import { orderRefsOf } from '../contract/ids';
import type { Config } from '../common/config';
import { preparedQuery, type Knex } from '../common/db';
import { listenForChanges } from '../common/change-feed';
import { LruCache } from '../common/lru';
import { countQueryCache } from '../common/metrics';
import {
  cancelOrderFields,
  type CancelOrderRow,
  CANCEL_QUERY_FIELDS,
  CANCEL_REQUEST_FIELDS,
} from '../providers/unified/protocol';
import { md5Sign } from '../providers/unified/sign';
import { TERMINAL_STATUSES, type CancellationStatus } from '../contract/cancellation';
import { CODES, Refusal, northboundEnvelope } from './northbound-envelope';

/**
 * The Unified Cancel protocol of seed 000, served: `POST /api/pay/cancel` and
 * `POST /api/cancel/query`, JSON or form bodies, every field rule of the seed's tables, MD5
 * signatures with the app's key, a `reqTime` window against replays. Every refusal says what is
 * wrong; a refused request never starts anything.
 */

/** How long a pending answer may be kept at most (transitions evict it as they commit). */
const PENDING_TTL_MS = 5_000;

/** Answer codes (also in the README); defined with the envelope (northbound-envelope.ts). */
export { CODES };

export interface NorthboundDeps {
  config: Config;
  db: Knex;
  cancelflow: CancelflowClient;
}

interface CancellationRow extends CancelOrderRow {
  status: CancellationStatus;
}

/** The query endpoint's read, prepared once per connection (the hottest read in the service). */
const QUERY_SQL = `select cancel_order_id, pay_order_id, provider_order_no, mch_no, app_id, amount_minor, currency,
  status, state, channel_order_no, err_code, err_msg, ext_param, success_time, created_at
  from cancellations where cancel_order_id = $1 and mch_no = $2 and app_id = $3`;

/** This app's active cancellation of the order the request names, by any of its numbers. */
async function recordedCancellation(
  db: Knex,
  p: Record<string, string>,
): Promise<
  Pick<CancellationRow, 'cancel_order_id' | 'state' | 'channel_order_no' | 'err_code' | 'err_msg'> | undefined
> {
  const refs = orderRefsOf({
    ...(p.payOrderId ? { payOrderId: p.payOrderId } : {}),
    ...(p.mchOrderNo ? { mchOrderNo: p.mchOrderNo } : {}),
  });
  return (
    db('cancellation_refs as r')
      .join('cancellations as c', 'c.cancel_order_id', 'r.cancel_order_id')
      .where({ 'r.mch_no': p.mchNo, 'r.app_id': p.appId })
      .whereIn('r.order_ref', refs)
      // A retryable failure is being started again by this very request: not its answer.
      .where('c.retryable', false)
      .first('c.cancel_order_id', 'c.state', 'c.channel_order_no', 'c.err_code', 'c.err_msg')
  );
}

function answerOf(
  row: Pick<CancellationRow, 'cancel_order_id' | 'state' | 'channel_order_no' | 'err_code' | 'err_msg'>,
): Record<string, unknown> {
  return {
    cancelOrderId: row.cancel_order_id,
    state: row.state,
    channelOrderNo: row.channel_order_no ?? '',
    errCode: row.err_code ?? '',
    errMsg: row.err_msg ?? '',
  };
}

export async function northboundRoutes(app: FastifyInstance, deps: NorthboundDeps): Promise<void> {
  const { config } = deps;
  // A terminal cancellation is never changed (applyTransition refuses to), so its answer can be
  // kept; the TTL bounds what an out-of-band edit of the database would leave stale.
  const terminalAnswers = new LruCache<Record<string, unknown>>(
    config.api.queryCacheEntries,
    config.api.queryCacheTtlSeconds * 1000,
  );
  // A pending answer is kept only while Postgres tells this process about every transition
  // (LISTEN): a transition evicts it as it commits; the short TTL bounds a lost notification.
  const pendingAnswers = new LruCache<Record<string, unknown>>(config.api.queryCacheEntries, PENDING_TTL_MS);
  const keysById = new Map<string, Set<string>>();
  // Bumped by every notification: an answer read while one arrived is not kept (it may predate it).
  let generation = 0;
  const forgetPending = () => {
    pendingAnswers.clear();
    keysById.clear();
  };
  const feed =
    config.databaseUrl && config.api.queryCacheEntries > 0
      ? listenForChanges(
          config.databaseUrl,
          (id) => {
            generation += 1;
            for (const key of keysById.get(id) ?? []) pendingAnswers.delete(key);
            keysById.delete(id);
          },
          () => {
            // Lost, or back in place: a transition may have committed unheard meanwhile, so an
            // answer read before the reset must not be kept when it arrives after it.
            generation += 1;
            forgetPending();
          },
          app.log,
        )
      : undefined;
  app.addHook('onClose', async () => feed?.close());
  // The signature of a kept answer, terminal or pending (it covers `data` only, which never
  // changes while it is kept), by identity.
  const signedAnswers = new WeakMap<Record<string, unknown>, string>();
  const handle = northboundEnvelope(app, config, signedAnswers);

  app.post(
    '/api/pay/cancel',
    handle('/api/pay/cancel', CANCEL_REQUEST_FIELDS, async (p) => {
      let started;
      try {
        started = await deps.cancelflow.startCancellation(
          {
            mchNo: p.mchNo!,
            appId: p.appId!,
            ...(p.payOrderId ? { payOrderId: p.payOrderId } : {}),
            ...(p.mchOrderNo ? { mchOrderNo: p.mchOrderNo } : {}),
            ...(p.notifyUrl ? { notifyUrl: p.notifyUrl } : {}),
            ...(p.extParam ? { extParam: p.extParam } : {}),
            ...(p.clientIp ? { clientIp: p.clientIp } : {}),
            ...(p.channelExtra ? { channelExtra: p.channelExtra } : {}),
          },
          // The workflow waits cancelWaitMs for the provider; the whole call, queueing in
          // Temporal and the workers included, gets one second more, then stops.
          { waitMs: config.api.cancelWaitMs, deadlineMs: config.api.cancelWaitMs + 1_000 },
        );
      } catch (err) {
        if (err instanceof ValidationError) throw new Refusal(CODES.BAD_FIELD, err.message);
        if (err instanceof CancelflowError && err.code === 'NOT_ANSWERED') {
          // Busy: answer what Postgres knows of this app's cancellation of this order, if anything.
          const row = await recordedCancellation(deps.db, p);
          if (row) return answerOf(row);
          throw new Refusal(CODES.UNAVAILABLE, `${err.message}: send the same request again`);
        }
        if (err instanceof CancelflowError && err.code === 'NOT_RECORDED')
          throw new Refusal(CODES.UNAVAILABLE, err.message);
        throw err;
      }
      // The workflow's own answer, about this app's order (the workflow id names the app).
      const answer = started.answer;
      if (answer.mchNo !== p.mchNo || answer.appId !== p.appId)
        throw new Error(`cancellation ${answer.cancelOrderId} answered for another app`);
      return {
        cancelOrderId: answer.cancelOrderId,
        state: answer.state,
        channelOrderNo: answer.channelOrderNo ?? '',
        errCode: answer.errCode ?? '',
        errMsg: answer.errMsg ?? '',
      };
    }),
  );

  app.post(
    '/api/cancel/query',
    handle('/api/cancel/query', CANCEL_QUERY_FIELDS, async (p, app) => {
      const cacheKey = `${p.cancelOrderId}\u0000${p.mchNo}\u0000${p.appId}`;
      const cached = terminalAnswers.get(cacheKey) ?? (feed?.live ? pendingAnswers.get(cacheKey) : undefined);
      if (cached) {
        countQueryCache(true);
        return cached;
      }
      countQueryCache(false);
      const readAt = generation;
      const [row] = await preparedQuery<CancellationRow>(deps.db, 'northbound_query', QUERY_SQL, [
        p.cancelOrderId,
        p.mchNo,
        p.appId,
      ]);
      if (!row)
        throw new Refusal(
          CODES.NOT_FOUND,
          `order not found: no cancel order ${p.cancelOrderId} for this app`,
        );
      const answer: Record<string, unknown> = { ...cancelOrderFields(row) };
      if (TERMINAL_STATUSES.includes(row.status) && terminalAnswers.capacity > 0) {
        terminalAnswers.set(cacheKey, answer);
        signedAnswers.set(answer, md5Sign(answer, app.key.reveal()));
      } else if (feed?.live && generation === readAt) {
        // No transition committed while it was read (none notified); any later one evicts it.
        if (keysById.size >= config.api.queryCacheEntries) forgetPending();
        const keys = keysById.get(row.cancel_order_id) ?? new Set<string>();
        keys.add(cacheKey);
        keysById.set(row.cancel_order_id, keys);
        pendingAnswers.set(cacheKey, answer);
        // Kept with its signature too: a merchant polling a pending cancellation costs no MD5.
        signedAnswers.set(answer, md5Sign(answer, app.key.reveal()));
      }
      return answer;
    }),
  );
}
