import type { Knex } from './db';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** The 17-digit UTC timestamp of seed 000's order numbers: yyyyMMddHHmmssSSS. */
export function utcStamp(at: Date): string {
  return (
    `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1, 2)}${pad(at.getUTCDate(), 2)}` +
    `${pad(at.getUTCHours(), 2)}${pad(at.getUTCMinutes(), 2)}${pad(at.getUTCSeconds(), 2)}` +
    pad(at.getUTCMilliseconds(), 3)
  );
}

/**
 * Seed 000's cancel order id (`C` + 17-digit UTC timestamp + 4 digits), allocated by Postgres:
 * the database clock and one sequence shared by every process (migration `integrity`), so two
 * processes can never mint the same id. The cancellation's own insert calls the same function.
 */
export async function allocateCancelOrderId(db: Knex): Promise<string> {
  const { rows } = await db.raw<{ rows: Array<{ id: string }> }>('select next_cancel_order_id() as id');
  return rows[0]!.id;
}

export const CANCEL_ORDER_ID = /^C\d{21}$/;

/** `pay:<payOrderId>` when the payment order is known, else `mch:<mchOrderNo>`. */
export function orderRefOf(order: { payOrderId?: string; mchOrderNo?: string }): string {
  if (order.payOrderId) return `pay:${order.payOrderId}`;
  if (order.mchOrderNo) return `mch:${order.mchOrderNo}`;
  throw new Error('an order needs payOrderId or mchOrderNo');
}

/** Every number the request names the order by: each one finds an existing cancellation. */
export function orderRefsOf(order: { payOrderId?: string; mchOrderNo?: string }): string[] {
  return [
    ...(order.payOrderId ? [`pay:${order.payOrderId}`] : []),
    ...(order.mchOrderNo ? [`mch:${order.mchOrderNo}`] : []),
  ];
}

/**
 * One workflow per (account, app, order): two apps routed to the same account never share a
 * cancellation, its id, its data or its notification.
 */
export function cancellationWorkflowId(
  accountId: string,
  app: { mchNo: string; appId: string },
  orderRef: string,
): string {
  return `cancel/${accountId}/${app.mchNo}/${app.appId}/${orderRef}`;
}
