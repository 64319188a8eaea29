import { z } from 'zod';
import { AmountError, decimalToMinor } from '../../common/money';
import type { HttpAnswer } from '../http';
import type { CancelOutcome, ProviderOperation, SignatureVerdict } from '../types';

const money = z.object({
  currency: z.string().regex(/^[A-Z]{3}$/),
  amount: z.union([z.number(), z.string()]),
});

const acquireOrder = z.object({
  merchantOrderNo: z.string().optional(),
  orderNo: z.string().optional(),
  status: z.enum(['CREATED', 'PAID_SUCCESS', 'SETTLED', 'FAILURE']),
  totalAmount: money.optional(),
  revoked: z.string().optional(),
  failCode: z.string().optional(),
  failDes: z.string().optional(),
});

const envelope = z.object({
  head: z.object({
    applyStatus: z.enum(['SUCCESS', 'FAIL', 'ERROR']),
    code: z.string(),
    msg: z.string().optional(),
    traceCode: z.string().optional(),
  }),
  body: z.object({ acquireOrder: acquireOrder }).optional().nullable(),
});

export type PaybyEnvelope = z.infer<typeof envelope>;

/** HTTP statuses and head codes that mean "we don't know": retry with backoff, query first. */
const TRANSIENT_CODES = new Set(['402', '404', '500', '504']);

function orderOutcome(operation: ProviderOperation, order: z.infer<typeof acquireOrder>): CancelOutcome {
  const ids = {
    ...(order.orderNo ? { providerOrderNo: order.orderNo } : {}),
  };
  switch (order.status) {
    case 'FAILURE': {
      if (order.revoked === 'true') {
        return {
          kind: 'refused',
          state: 3,
          code: 'ORDER_REVOKED',
          message: 'the order was paid and then revoked',
        };
      }
      let amount;
      if (order.totalAmount) {
        try {
          amount = {
            minor: decimalToMinor(order.totalAmount.amount, order.totalAmount.currency),
            currency: order.totalAmount.currency,
          };
        } catch (err) {
          if (err instanceof AmountError)
            return { kind: 'unknown', reason: `malformed totalAmount: ${err.message}` };
          throw err;
        }
      }
      return { kind: 'cancelled', ...ids, ...(amount ? { amount } : {}) };
    }
    case 'PAID_SUCCESS':
      return {
        kind: 'refused',
        state: 3,
        code: 'ORDER_PAID',
        message: 'the order was paid: revoke or refund it instead',
      };
    case 'SETTLED':
      return {
        kind: 'refused',
        state: 3,
        code: 'ORDER_SETTLED',
        message: 'the order was settled: refund it instead',
      };
    case 'CREATED':
      // Cancel answered but the order is still open: confirm by querying. A query that finds it
      // open means our cancel has not taken effect.
      return operation === 'cancel'
        ? { kind: 'pending', state: 1, reason: 'order still CREATED after cancel; confirming with getOrder' }
        : { kind: 'resubmit', reason: 'order is CREATED: the cancel has not taken effect' };
  }
}

/**
 * Classifies a PayBy answer (PROVIDERS.md, "Classifying answers"). `signature` is the verdict on
 * the `sign` header over the raw body, checked before parsing.
 */
export function classifyPaybyAnswer(
  operation: ProviderOperation,
  answer: HttpAnswer,
  signature: SignatureVerdict,
): CancelOutcome {
  if (!answer.ok) return { kind: 'unknown', reason: `transport: ${answer.error}`, code: answer.code };
  if (answer.status >= 500)
    return { kind: 'unknown', reason: `HTTP ${answer.status}`, code: `HTTP_${answer.status}` };
  if (answer.body.trim() === '') return { kind: 'unknown', reason: `empty body (HTTP ${answer.status})` };

  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    return { kind: 'unknown', reason: `body is not JSON (HTTP ${answer.status})` };
  }
  const parsed = envelope.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      kind: 'unknown',
      reason: `malformed answer: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? ''}`.trim(),
    };
  }
  const { head, body } = parsed.data;
  const message = head.msg ?? '';

  if (head.applyStatus === 'ERROR') {
    return {
      kind: 'misconfigured',
      code: 'PAYBY_SIGNATURE_REJECTED',
      message: `PayBy could not verify our signature: ${message}`,
    };
  }

  const signed = signature === 'valid';
  const business = head.code === '0' || head.code.startsWith('62');
  if (business && !signed) {
    return {
      kind: 'unknown',
      reason: `answer code ${head.code} is not trustworthy: signature ${signature}`,
      code: 'BAD_SIGNATURE',
    };
  }

  switch (head.code) {
    case '0':
      if (head.applyStatus !== 'SUCCESS' || !body?.acquireOrder) {
        return { kind: 'unknown', reason: 'code 0 without a SUCCESS acquireOrder' };
      }
      return orderOutcome(operation, body.acquireOrder);
    case '62001':
      return { kind: 'refused', state: 3, code: 'ORDER_PAID', message: message || 'ORDER_PAID' };
    case '62003':
      return { kind: 'refused', state: 3, code: 'ORDER_SETTLED', message: message || 'ORDER_SETTLED' };
    case '62002':
      return { kind: 'pending', state: 1, reason: 'ORDER_FAILURE: confirming with getOrder' };
    case '62004':
      return {
        kind: 'refused',
        state: 3,
        code: 'MERCHANT_ORDER_NO_NOT_EXIST',
        message: message || 'merchant order number does not exist',
      };
    case '62035':
      return {
        kind: 'refused',
        state: 3,
        code: 'ORDER_NO_NOT_EXIST',
        message: message || 'PayBy order number does not exist',
      };
    case '400':
      if (/REQUESTTIME_TOO_(EARLY|LATER)/.test(message)) {
        return {
          kind: 'unknown',
          reason: `${message}: retry with a fresh requestTime (check the clock if it persists)`,
          code: 'REQUESTTIME',
        };
      }
      return { kind: 'misconfigured', code: 'INVALID_PARAMETER', message: message || 'INVALID_PARAMETER' };
    case '403':
      return { kind: 'misconfigured', code: 'UNAUTHORIZED', message: message || 'API not authorized' };
    case '601':
      return {
        kind: 'refused',
        state: 3,
        code: 'RISK_FAIL',
        message: message || 'risk control validation failed',
      };
    default:
      if (TRANSIENT_CODES.has(head.code))
        return { kind: 'unknown', reason: `${head.code} ${message}`.trim(), code: head.code };
      return {
        kind: 'unknown',
        reason: `unrecognised answer code ${head.code} ${message}`.trim(),
        code: head.code,
      };
  }
}
