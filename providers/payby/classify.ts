import { z } from 'zod';
import { AmountError, decimalToMinor, type Money } from '../../common/money';
import type { HttpAnswer } from '../http';
import type { CancelOutcome, OrderFacts, OrderRef, ProviderOperation, SignatureVerdict } from '../types';
import { askedBizContent } from './biz-content';

/**
 * Seed 002's response codes and their names: a refusal's `message` when PayBy sends no `msg`.
 * 62006 to 62046 come from the revoke and refund APIs (PROVIDERS.md; PayBy's response-code page).
 */
export const PAYBY_CODE_NAMES: Readonly<Record<string, string>> = {
  '0': 'SUCCESS',
  '400': 'INVALID_PARAMETER',
  '402': 'RATE_LIMIT_REJECT',
  '403': 'UNAUTHORIZED',
  '404': 'SERVICE_NOT_AVAILABLE',
  '500': 'SYSTEM_ERROR',
  '504': 'SERVICE_TIMEOUT',
  '601': 'RISK_FAIL',
  '62001': 'ORDER_PAID',
  '62002': 'ORDER_FAILURE',
  '62003': 'ORDER_SETTLED',
  '62004': 'MERCHANT_ORDER_NO_NOT_EXIST',
  '62035': 'ORDER_NO_NOT_EXIST',
  '62006': 'REFUND_AMOUNT_EXCEEDED',
  '62015': 'ORDER_NOT_PAID',
  '62017': 'REFUND_MERCHANT_ORDER_NO_EXIST',
  '62036': 'MERCHANT_DEVICE_NOT_EXIST',
  '62038': 'INVALID_SECONDARY_MERCHANT',
  '62039': 'REVOKE_FAILURE',
  '62040': 'ACQUIRE_ORDER_REVOKED',
  '62041': 'ACQUIRE_ORDER_REFUNDED',
  '62045': 'REFUND_REJECTED',
  '62046': 'REVOKE_REJECTED',
};

/** What the adapter asked and when it heard back, so that classification stays a pure function. */
export interface PaybyAnswerContext {
  /** The order as the request named it (`bizContentFor`), with its other number when we know it. */
  order: OrderRef;
  /** Epoch ms at which the answer was received: a cancelled outcome's `successTime`. */
  receivedAt: number;
}

const envelope = z.object({
  head: z.object({
    applyStatus: z.enum(['SUCCESS', 'FAIL', 'ERROR']),
    code: z.string(),
    msg: z.string().nullish(),
    traceCode: z.string().nullish(),
  }),
  // Read field by field below: a body only matters for code 0, and its order numbers first.
  body: z.unknown().optional(),
});

export type PaybyEnvelope = z.infer<typeof envelope>;

const acquireOrder = z.object({
  status: z.enum(['CREATED', 'PAID_SUCCESS', 'SETTLED', 'FAILURE']),
  // The signed status decides; the amount only informs, so it is read leniently (amountOf).
  totalAmount: z.unknown().optional(),
  revoked: z.union([z.string(), z.boolean()]).nullish(),
});

const totalAmount = z.object({
  currency: z.string().regex(/^[A-Za-z]{3}$/),
  amount: z.union([z.number(), z.string()]),
});

/** HTTP statuses and head codes that mean "we don't know": retry with backoff, query first. */
const TRANSIENT_CODES = new Set(['402', '404', '500', '504']);

/** Codes that are a final no to a cancel; they must come signed (PROVIDERS.md). */
const REFUSAL_CODES = new Set(['62001', '62003', '62004', '62035']);

/** Of those, the ones meaning PayBy does not know the order: MERCHANT_ORDER_NO_NOT_EXIST, ORDER_NO_NOT_EXIST. */
const NOT_FOUND_CODES = new Set(['62004', '62035']);

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

function orderOutcome(
  operation: ProviderOperation,
  raw: Record<string, unknown>,
  context: PaybyAnswerContext,
): CancelOutcome {
  const parsed = acquireOrder.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      kind: 'unknown',
      reason: `malformed acquireOrder: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? ''}`.trim(),
    };
  }
  const order = parsed.data;
  const facts = orderFacts(raw);
  switch (order.status) {
    case 'FAILURE': {
      const revoked = revokedFlag(order.revoked);
      if (revoked === undefined)
        return {
          kind: 'unknown',
          reason: `FAILURE with an unrecognised revoked value ${shown(order.revoked)}`,
        };
      // Paid, then revoked (refunded): the order was not cancelled, its payment was reversed.
      if (revoked)
        return { kind: 'refused', state: 3, code: '62040', message: PAYBY_CODE_NAMES['62040']!, ...facts };
      return {
        kind: 'cancelled',
        ...(facts.payOrderId ? { providerOrderNo: facts.payOrderId } : {}),
        ...facts,
        successTime: context.receivedAt,
      };
    }
    // The codes PayBy gives a cancel of such an order.
    case 'PAID_SUCCESS':
      return { kind: 'refused', state: 3, code: '62001', message: PAYBY_CODE_NAMES['62001']!, ...facts };
    case 'SETTLED':
      return { kind: 'refused', state: 3, code: '62003', message: PAYBY_CODE_NAMES['62003']!, ...facts };
    case 'CREATED':
      // Cancel answered but the order is still open: confirm by querying. A query that finds it
      // open shows our cancel has not taken effect.
      return operation === 'cancel'
        ? {
            kind: 'pending',
            state: 1,
            reason: 'order still CREATED after cancel; confirming with getOrder',
            ...facts,
          }
        : {
            kind: 'resubmit',
            authoritative: true,
            reason: 'order is CREATED: the cancel has not taken effect',
          };
  }
}

/** The answers every PayBy API gives alike: we do not know, or PayBy refused *us*. */
export type PaybyNonAnswer = Extract<CancelOutcome, { kind: 'unknown' } | { kind: 'misconfigured' }>;

/** A PayBy envelope whose business answer (code 0 or 62xxx) is signed; generic errors may not be. */
export interface PaybyTrustedEnvelope {
  head: PaybyEnvelope['head'];
  body: unknown;
  code: string;
  /** PayBy's `msg`, else the code's name (seed 002), else `code <n>`. */
  message: string;
}

/**
 * The part of classification every PayBy API shares: transport and HTTP failures, bodies that are
 * not a PayBy envelope, applyStatus ERROR (our signature refused), and business answers (code 0 or
 * 62xxx) whose signature does not verify. `signature` is the verdict on the `sign` header over the
 * raw body, checked before parsing.
 */
export function readPaybyAnswer(
  answer: HttpAnswer,
  signature: SignatureVerdict,
): { outcome: PaybyNonAnswer } | { envelope: PaybyTrustedEnvelope } {
  if (!answer.ok)
    return { outcome: { kind: 'unknown', reason: `transport: ${answer.error}`, code: answer.code } };
  if (answer.status >= 500)
    return { outcome: { kind: 'unknown', reason: `HTTP ${answer.status}`, code: `HTTP_${answer.status}` } };
  if (answer.body.trim() === '')
    return { outcome: { kind: 'unknown', reason: `empty body (HTTP ${answer.status})` } };

  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    return { outcome: { kind: 'unknown', reason: `body is not JSON (HTTP ${answer.status})` } };
  }
  const parsed = envelope.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      outcome: {
        kind: 'unknown',
        reason: `malformed answer: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? ''}`.trim(),
      },
    };
  }
  const { head, body } = parsed.data;
  const code = head.code;
  const message = head.msg || PAYBY_CODE_NAMES[code] || `code ${code}`;

  if (head.applyStatus === 'ERROR') {
    return {
      outcome: {
        kind: 'misconfigured',
        code: code || 'ERROR',
        message: `PayBy could not verify our signature${head.msg ? `: ${head.msg}` : ''}`,
      },
    };
  }

  const business = code === '0' || code.startsWith('62');
  if (business && signature !== 'valid') {
    return {
      outcome: {
        kind: 'unknown',
        reason: `answer code ${code} is not trustworthy: signature ${signature}`,
        code: 'BAD_SIGNATURE',
      },
    };
  }
  return { envelope: { head, body, code, message } };
}

/**
 * The global codes (seed 002): a stale or early requestTime and the transient codes are unknown,
 * other 400s and 403 are our misconfiguration; anything else unrecognised is unknown. 601 and the
 * 62xxx codes mean something per API, so the callers handle them first.
 */
export function globalCodeOutcome({ code, message, head }: PaybyTrustedEnvelope): PaybyNonAnswer {
  switch (code) {
    case '400':
      if (/REQUESTTIME_TOO_(EARLY|LATER)/.test(message)) {
        return {
          kind: 'unknown',
          reason: `${message}: retry with a fresh requestTime (check the clock if it persists)`,
          code: 'REQUESTTIME',
        };
      }
      return { kind: 'misconfigured', code, message };
    case '403':
      return { kind: 'misconfigured', code, message };
    default:
      if (TRANSIENT_CODES.has(code)) return { kind: 'unknown', reason: `${code} ${message}`, code };
      return { kind: 'unknown', reason: `unrecognised answer code ${code} ${head.msg ?? ''}`.trim(), code };
  }
}

/**
 * Classifies a PayBy answer (PROVIDERS.md, "Classifying answers"). `signature` is the verdict on
 * the `sign` header over the raw body, checked before parsing; `context` is what was asked.
 * `refused` carries PayBy's own code and description (`62001` / `ORDER_PAID`).
 */
export function classifyPaybyAnswer(
  operation: ProviderOperation,
  answer: HttpAnswer,
  signature: SignatureVerdict,
  context: PaybyAnswerContext,
): CancelOutcome {
  const read = readPaybyAnswer(answer, signature);
  if ('outcome' in read) return read.outcome;
  const { head, body, code, message } = read.envelope;

  const rawOrder = isRecord(body) ? body.acquireOrder : undefined;
  if (isRecord(rawOrder)) {
    const reason = misaddressed(rawOrder, context.order);
    if (reason) return { kind: 'unknown', reason, code: 'MISADDRESSED' };
  }

  if (REFUSAL_CODES.has(code))
    return {
      kind: 'refused',
      state: 3,
      code,
      message,
      ...(NOT_FOUND_CODES.has(code) ? { notFound: true } : {}),
    };
  switch (code) {
    case '0':
      if (head.applyStatus !== 'SUCCESS' || !isRecord(rawOrder))
        return { kind: 'unknown', reason: 'code 0 without a SUCCESS acquireOrder' };
      return orderOutcome(operation, rawOrder, context);
    case '62002':
      return { kind: 'pending', state: 1, reason: 'ORDER_FAILURE: confirming with getOrder' };
    case '601':
      // Risk control refused this request: final for a cancel, but a refused query says nothing
      // about whether the cancel landed.
      return operation === 'cancel'
        ? { kind: 'refused', state: 3, code, message }
        : { kind: 'unknown', reason: `getOrder refused: ${code} ${message}`, code };
    default:
      return globalCodeOutcome(read.envelope);
  }
}
