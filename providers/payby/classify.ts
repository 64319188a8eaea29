/** Classification of PayBy's cancelOrder and getOrder answers into a cancel's outcome. */
import { z } from 'zod';
import type { HttpAnswer } from '../http';
import type { CancelOutcome, OrderRef, ProviderOperation, SignatureVerdict } from '../types';
import { isRecord, misaddressed, orderFacts, revokedFlag, shown } from './answer-fields';
import { globalCodeOutcome, PAYBY_CODE_NAMES, readPaybyAnswer } from './envelope';

export { amountOf, isRecord, misaddressed, orderFacts, revokedFlag, shown } from './answer-fields';
export {
  globalCodeOutcome,
  PAYBY_CODE_NAMES,
  readPaybyAnswer,
  type PaybyEnvelope,
  type PaybyNonAnswer,
  type PaybyTrustedEnvelope,
} from './envelope';

/** What the adapter asked and when it heard back, so that classification stays a pure function. */
export interface PaybyAnswerContext {
  /** The order as the request named it (`bizContentFor`), with its other number when we know it. */
  order: OrderRef;
  /** Epoch ms at which the answer was received: a cancelled outcome's `successTime`. */
  receivedAt: number;
}

const acquireOrder = z.object({
  status: z.enum(['CREATED', 'PAID_SUCCESS', 'SETTLED', 'FAILURE']),
  // The signed status decides; the amount only informs, so it is read leniently (amountOf).
  totalAmount: z.unknown().optional(),
  revoked: z.union([z.string(), z.boolean()]).nullish(),
});

/** Codes that are a final no to a cancel; they must come signed (PROVIDERS.md). */
const REFUSAL_CODES = new Set(['62001', '62003', '62004', '62035']);

/** Of those, the ones meaning PayBy does not know the order: MERCHANT_ORDER_NO_NOT_EXIST, ORDER_NO_NOT_EXIST. */
const NOT_FOUND_CODES = new Set(['62004', '62035']);

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
