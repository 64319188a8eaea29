/** Reading the fields of an answer's order: which order it names, its amount, its revoked flag, its facts. */
import { z } from 'zod';
import { AmountError, decimalToMinor, type Money } from '../../common/money';
import type { OrderFacts, OrderRef } from '../types';
import { askedBizContent } from './biz-content';

const totalAmount = z.object({
  currency: z.string().regex(/^[A-Za-z]{3}$/),
  amount: z.union([z.number(), z.string()]),
});

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function shown(value: unknown): string {
  return value === undefined || value === null ? '(none)' : JSON.stringify(value);
}

/**
 * Why an answer's `acquireOrder` is not about the order we asked about, or undefined when it is.
 * The number the request named must be there and equal; the other number, when we know it and the
 * answer gives it, must agree too.
 */
export function misaddressed(order: Record<string, unknown>, asked: OrderRef): string | undefined {
  const biz = askedBizContent(asked);
  if (!biz) return 'the request named no order, so no answer can be about it';
  const [field, value] =
    'orderNo' in biz
      ? (['orderNo', biz.orderNo] as const)
      : (['merchantOrderNo', biz.merchantOrderNo] as const);
  if (order[field] !== value)
    return `answer about another order: asked ${field} ${JSON.stringify(value)}, answer names ${field} ${shown(order[field])}`;
  const others = [
    ['merchantOrderNo', asked.mchOrderNo],
    ['orderNo', asked.payOrderId],
  ] as const;
  for (const [name, known] of others) {
    const named = order[name];
    if (name !== field && known && named !== undefined && named !== null && named !== '' && named !== known)
      return `answer about another order: our ${name} is ${JSON.stringify(known)}, answer names ${name} ${shown(named)}`;
  }
  return undefined;
}

/** A PayBy Money `{currency, amount}` in exact minor units, or undefined when it cannot be converted exactly. */
export function amountOf(value: unknown): Money | undefined {
  const parsed = totalAmount.safeParse(value);
  if (!parsed.success) return undefined;
  const currency = parsed.data.currency.toUpperCase();
  try {
    const minor = decimalToMinor(parsed.data.amount, currency);
    return minor >= 0 ? { minor, currency } : undefined;
  } catch (err) {
    if (err instanceof AmountError) return undefined;
    throw err;
  }
}

/** `revoked` is the string "true"/"false"; undefined when it says neither. */
export function revokedFlag(value: string | boolean | null | undefined): boolean | undefined {
  if (value === undefined || value === null || value === '' || value === false) return false;
  if (value === true) return true;
  const text = value.trim().toLowerCase();
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

export function orderFacts(raw: Record<string, unknown>): OrderFacts {
  const amount = amountOf(raw.totalAmount);
  return {
    ...(typeof raw.orderNo === 'string' && raw.orderNo ? { payOrderId: raw.orderNo } : {}),
    ...(typeof raw.merchantOrderNo === 'string' && raw.merchantOrderNo
      ? { mchOrderNo: raw.merchantOrderNo }
      : {}),
    ...(amount ? { amount } : {}),
  };
}
