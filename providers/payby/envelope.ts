/** The PayBy envelope every API shares: response-code names, reading and trusting an answer, global codes. */
import { z } from 'zod';
import type { HttpAnswer } from '../http';
import type { CancelOutcome, SignatureVerdict } from '../types';

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

/** HTTP statuses and head codes that mean "we don't know": retry with backoff, query first. */
const TRANSIENT_CODES = new Set(['402', '404', '500', '504']);

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
