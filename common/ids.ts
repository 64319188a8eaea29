import { randomInt } from 'node:crypto';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

// The 4 digits: a per-process counter from a random start, so ids made by one process in the same
// millisecond never collide (up to 10,000 a millisecond); across processes a collision needs the
// same millisecond and the same 4 digits, and is refused by the database (recordCancellation).
let counter = randomInt(10_000);

/** The 17-digit UTC timestamp of seed 000's order numbers: yyyyMMddHHmmssSSS. */
export function utcStamp(at: Date): string {
  return (
    `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1, 2)}${pad(at.getUTCDate(), 2)}` +
    `${pad(at.getUTCHours(), 2)}${pad(at.getUTCMinutes(), 2)}${pad(at.getUTCSeconds(), 2)}` +
    pad(at.getUTCMilliseconds(), 3)
  );
}

/** Seed 000's cancel order id: `C` + 17-digit UTC timestamp (yyyyMMddHHmmssSSS) + 4 digits. */
export function newCancelOrderId(at: Date = new Date()): string {
  counter = (counter + 1) % 10_000;
  return `C${utcStamp(at)}${pad(counter, 4)}`;
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
