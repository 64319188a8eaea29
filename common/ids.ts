import { randomInt } from 'node:crypto';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Seed 000's cancel order id: `C` + 17-digit UTC timestamp (yyyyMMddHHmmssSSS) + 4 random digits. */
export function newCancelOrderId(at: Date = new Date()): string {
  const ts =
    `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1, 2)}${pad(at.getUTCDate(), 2)}` +
    `${pad(at.getUTCHours(), 2)}${pad(at.getUTCMinutes(), 2)}${pad(at.getUTCSeconds(), 2)}` +
    pad(at.getUTCMilliseconds(), 3);
  return `C${ts}${pad(randomInt(10_000), 4)}`;
}

export const CANCEL_ORDER_ID = /^C\d{21}$/;

/** `pay:<payOrderId>` when the payment order is known, else `mch:<mchOrderNo>`. */
export function orderRefOf(order: { payOrderId?: string; mchOrderNo?: string }): string {
  if (order.payOrderId) return `pay:${order.payOrderId}`;
  if (order.mchOrderNo) return `mch:${order.mchOrderNo}`;
  throw new Error('an order needs payOrderId or mchOrderNo');
}

export function cancellationWorkflowId(accountId: string, orderRef: string): string {
  return `cancel/${accountId}/${orderRef}`;
}
