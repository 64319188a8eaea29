import rateLimit from '@fastify/rate-limit';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config';
import type { Knex } from '../common/db';
import { parseParams } from '../providers/unified/protocol';
import { verifyCancelNotification } from '../providers/unified/notification';
import { signalStoredCallback } from '../client';
import { TERMINAL_STATUSES, type CancellationStatus } from '../contract/cancellation';

/** Postgres text cannot hold NUL: what we store shows it as U+FFFD. */
const clean = (text: string): string => text.replaceAll('\u0000', '\ufffd');

/** The longest prefix of `text` whose UTF-8 encoding fits in `bytes`. */
function firstBytes(text: string, bytes: number): string {
  let end = Math.min(text.length, bytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end), 'utf8') > bytes) end -= 1;
  return text.slice(0, end);
}

/** What is kept of a request for an account we do not have (anyone can send those), in bytes. */
const UNKNOWN_ACCOUNT_BODY_BYTES = 1024;
/**
 * What is kept of a body that is not a verified notification (malformed, or its signature fails):
 * anyone who knows an account id can send those too. A real notification is a few hundred bytes,
 * so a gateway's badly signed one is kept whole.
 */
const UNVERIFIED_BODY_BYTES = 4096;

export interface CallbackDeps {
  config: Config;
  db: Knex;
  client: Client;
}

/**
 * `POST /callbacks/unified/:accountId`: an upstream gateway's seed-000 Cancel Notification.
 * Every callback is stored raw with its verdict before anything else. A verified one signals the
 * matching cancellation and is answered `success`; a forged, unknown or malformed one changes
 * nothing and is answered with an error (the gateway will retry on its schedule).
 */
export async function callbackRoutes(app: FastifyInstance, deps: CallbackDeps): Promise<void> {
  // Unauthenticated by nature (the signature is checked after): rate-limited per client address.
  await app.register(rateLimit, { max: deps.config.api.rateLimitPerMinute, timeWindow: 60_000 });
  // Our own failures (Postgres down) are answered without their details; the gateway retries.
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    if (err.statusCode && err.statusCode < 500)
      return reply.code(err.statusCode).type('text/plain').send(`fail: ${err.message}`);
    req.log.error({ err }, 'provider callback failed');
    return reply.code(503).type('text/plain').send('fail: temporarily unavailable, retry later');
  });
  app.post<{ Params: { accountId: string } }>('/callbacks/unified/:accountId', async (req, reply) => {
    const received = typeof req.body === 'string' ? req.body : '';
    // Postgres text cannot hold NUL: what is stored shows it as U+FFFD; such a body never verifies.
    const raw = clean(received);
    const accountId = clean(req.params.accountId).slice(0, 40);
    const contentType = req.headers['content-type']?.slice(0, 128) ?? null;
    // Said first in the reason (which is cut at 256 characters) when the body was cut.
    const cutNote = (keepBytes: number | undefined) =>
      keepBytes && Buffer.byteLength(raw, 'utf8') > keepBytes
        ? `(body of ${raw.length} characters, first ${keepBytes} bytes kept) `
        : '';
    const store = async (row: {
      /** Keep only the first this many bytes of the body (the reason says how long it was). */
      keepBytes?: number;
      verdict: string;
      reason?: string;
      cancelOrderId?: string;
      providerCancelId?: string;
      state?: number;
      workflowId?: string;
    }) => {
      const [inserted]: Array<{ id: number }> = await deps
        .db('provider_callbacks')
        .insert({
          account_id: accountId,
          content_type: contentType,
          raw_body: row.keepBytes ? firstBytes(raw, row.keepBytes) : raw,
          verdict: row.verdict,
          reason: row.reason ? clean(cutNote(row.keepBytes) + row.reason).slice(0, 256) : null,
          cancel_order_id: row.cancelOrderId ?? null,
          provider_cancel_id: row.providerCancelId ? clean(row.providerCancelId).slice(0, 64) : null,
          state: row.state ?? null,
          workflow_id: row.workflowId ?? null,
        })
        .returning('id');
      return inserted!.id;
    };
    const refuse = (status: number, text: string) =>
      reply.code(status).type('text/plain').send(`fail: ${text}`);

    const account = deps.config.accounts.find((a) => a.id === accountId);
    if (!account || account.provider !== 'unified') {
      await store({
        keepBytes: UNKNOWN_ACCOUNT_BODY_BYTES,
        verdict: 'unknown-account',
        reason: `no unified account "${accountId}"`,
      });
      return refuse(404, 'unknown account');
    }
    // Verified over what was received; what is stored is cleaned of NUL (see `store`).
    const params = parseParams(received, contentType ?? undefined);
    if (!params) {
      await store({
        keepBytes: UNVERIFIED_BODY_BYTES,
        verdict: 'malformed',
        reason: 'body is neither JSON nor a form',
      });
      return refuse(400, 'body is neither JSON nor a form');
    }
    const verdict = verifyCancelNotification(params, account.key.reveal());
    if (verdict.verdict !== 'valid') {
      await store({
        keepBytes: UNVERIFIED_BODY_BYTES,
        verdict: verdict.verdict,
        reason: verdict.reason,
        ...(verdict.cancelOrderId ? { providerCancelId: verdict.cancelOrderId } : {}),
      });
      return refuse(verdict.verdict === 'invalid-signature' ? 401 : 400, verdict.reason);
    }

    // The gateway's cancelOrderId is our provider_cancel_id; before we learnt it, the pay order.
    // Every active cancellation of that gateway order is told (apps routed to one account each
    // have their own), and never one about another order.
    type Match = {
      cancel_order_id: string;
      workflow_id: string;
      pay_order_id: string | null;
      status: CancellationStatus;
      state: number;
    };
    const columns = ['cancel_order_id', 'workflow_id', 'pay_order_id', 'status', 'state'];
    const notifiedPay =
      verdict.outcome.kind === 'cancelled' ||
      verdict.outcome.kind === 'refused' ||
      verdict.outcome.kind === 'pending'
        ? verdict.outcome.payOrderId
        : undefined;
    let matches: Match[] = await deps
      .db('cancellations')
      .where({ account_id: account.id, provider_cancel_id: verdict.cancelOrderId })
      .whereNull('retired_at')
      .select(columns);
    if (matches.length === 0 && notifiedPay)
      matches = await deps
        .db('cancellations')
        .where({ account_id: account.id, pay_order_id: notifiedPay })
        .whereNull('retired_at')
        .select(columns);
    const about = matches.filter((m) => !notifiedPay || !m.pay_order_id || m.pay_order_id === notifiedPay);
    const first = about[0];
    // A final record is never changed (applyTransition refuses to): neither its run (which reads
    // no more answers once it decided) nor a repair could use the callback. It is stored and
    // answered, and nothing is started: no signal, no repair run per late gateway notification.
    const open = about.filter((m) => !TERMINAL_STATUSES.includes(m.status));
    const finalOnly = first && open.length === 0 ? first : undefined;
    const disagrees = finalOnly && verdict.state >= 2 && verdict.state !== finalOnly.state;
    if (disagrees)
      req.log.warn(
        { cancelOrderId: finalOnly.cancel_order_id, recorded: finalOnly.state, notified: verdict.state },
        'gateway notification disagrees with a final cancellation: nothing changed',
      );
    const id = await store({
      verdict: first ? 'valid' : matches.length > 0 ? 'misaddressed' : 'unmatched',
      ...(first
        ? finalOnly
          ? {
              reason: `${disagrees ? 'disagrees with' : 'about'} a final record (state ${finalOnly.state}, notified ${verdict.state}): nothing changed, nothing started`,
            }
          : {}
        : {
            reason:
              matches.length > 0
                ? `payOrderId ${notifiedPay} is not the order of cancel order ${verdict.cancelOrderId}`
                : 'no cancellation matches this cancel order',
          }),
      ...(first ? { cancelOrderId: first.cancel_order_id, workflowId: first.workflow_id } : {}),
      providerCancelId: verdict.cancelOrderId,
      state: verdict.state,
    });
    if (!first) return refuse(404, 'unknown cancel order');

    // The signal names the stored callback; the workflow re-reads and re-verifies it. A
    // cancellation whose workflow has closed is completed by a repair workflow, the same way.
    if (open.length === 0) return reply.type('text/plain').send('success');
    for (const match of open)
      await signalStoredCallback(
        deps.client,
        {
          taskQueue: deps.config.temporal.taskQueue,
          ...(deps.config.timings?.notificationScheduleMs
            ? { notificationScheduleMs: deps.config.timings.notificationScheduleMs }
            : {}),
        },
        { workflowId: match.workflow_id, cancelOrderId: match.cancel_order_id, callbackId: String(id) },
      );
    await deps.db('provider_callbacks').where({ id }).update({ signalled: true });
    return reply.type('text/plain').send('success');
  });
}
