/** Whose cancel order it is: the lost cancels and the cancel orders recorded by other cancellations. */
import { withConnection, type Knex } from '../common/db';
import { SENT_NOT_ANSWERED } from '../contract/audit';

/**
 * `decide`'s `lostSubmit`, read back from `provider_calls` for the repairs that run without the
 * workflow's memory (reconciliation, a late callback): a cancel to a Unified gateway whose answer we
 * never got (`unknown`, or `sent` and never answered), by this cancellation or by the UNRESOLVED
 * ones it retries. Its gateway answers about one cancel order; the lost cancel may have cancelled the
 * order under an id we never learnt, so a refusal of the one we know does not decide. The lost
 * exchange's key, or undefined.
 */
export async function lostCancelOf(db: Knex, cancelOrderId: string): Promise<string | undefined> {
  const { rows } = await db.raw<{ rows: Array<{ exchange_key: string }> }>(
    `WITH RECURSIVE chain(id) AS (
       SELECT ?::varchar
       UNION SELECT c.retry_of FROM cancellations c JOIN chain ON c.cancel_order_id = chain.id
        WHERE c.retry_of IS NOT NULL)
     SELECT p.exchange_key FROM provider_calls p
      WHERE p.cancel_order_id IN (SELECT id FROM chain)
        AND p.provider = 'unified' AND p.operation = 'cancel' AND p.outcome IN ('unknown', ?)
      ORDER BY p.id LIMIT 1`,
    [cancelOrderId, SENT_NOT_ANSWERED],
  );
  return rows[0]?.exchange_key;
}

/**
 * The cancellation other than `cancelOrderId` that holds the gateway's cancel order
 * `providerCancelId` at this account, unless it is provably about the same payment order as
 * `order` (what the merchant asked for: the same pay or merchant order number), or undefined. A
 * cancel order belongs to one payment order: an answer to our cancel that names one we recorded for
 * another order is signed but not about ours (replayed, or misrouted). Where the numbers cannot be
 * compared (one asked by payOrderId, the other by mchOrderNo), not ours either. Bounded (acquire, 3 s).
 */
export async function holderOfCancelOrder(
  db: Knex,
  acquireMs: number,
  accountId: string,
  providerCancelId: string,
  cancelOrderId: string,
  order: { payOrderId?: string | undefined; mchOrderNo?: string | undefined },
): Promise<string | undefined> {
  const held = await withConnection(db, acquireMs, (connection) =>
    db('cancellations')
      .connection(connection)
      .where({ account_id: accountId, provider_cancel_id: providerCancelId })
      .whereNot({ cancel_order_id: cancelOrderId })
      // NULL-safe: a number the other row does not have proves nothing.
      .whereRaw('NOT (coalesce(pay_order_id = ?, false) OR coalesce(mch_order_no = ?, false))', [
        order.payOrderId ?? null,
        order.mchOrderNo ?? null,
      ])
      .first<{ cancel_order_id: string } | undefined>('cancel_order_id')
      .timeout(3_000, { cancel: true }),
  );
  return held?.cancel_order_id;
}
