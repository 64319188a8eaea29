import { randomInt } from 'node:crypto';

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `yyyyMMddHHmmssSSS` in UTC: the 17-digit timestamp of seed 000's order numbers. */
export function timestamp17(at: Date): string {
  return (
    pad(at.getUTCFullYear(), 4) +
    pad(at.getUTCMonth() + 1, 2) +
    pad(at.getUTCDate(), 2) +
    pad(at.getUTCHours(), 2) +
    pad(at.getUTCMinutes(), 2) +
    pad(at.getUTCSeconds(), 2) +
    pad(at.getUTCMilliseconds(), 3)
  );
}

/** Our cancel order id, as seed 000 shapes it: `C` + 17-digit timestamp + 4 random digits. */
export function newCancelOrderId(at: Date = new Date()): string {
  return `C${timestamp17(at)}${pad(randomInt(0, 10_000), 4)}`;
}

export const CANCEL_ORDER_ID = /^C\d{21}$/;
