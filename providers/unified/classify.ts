import { z } from 'zod';
import type { Money } from '../../common/money';
import type { HttpAnswer } from '../http';
import type { CancelOutcome, OrderFacts, OrderRef, ProviderOperation, SignatureVerdict } from '../types';
import { verifyMd5Sign } from './sign';

const optionalText = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => (v === null || v === undefined || v === '' ? undefined : String(v)));

const cancelData = z.object({
  cancelOrderId: z.string().min(1).max(30),
  state: z
    .union([z.number().int(), z.string().regex(/^\d$/).transform(Number)])
    .pipe(z.number().int().min(0).max(4)),
  channelOrderNo: optionalText,
  errCode: optionalText,
  errMsg: optionalText,
  payOrderId: optionalText,
  mchOrderNo: optionalText,
  // The signed state decides; amount and time only inform, so they are read leniently.
  payAmount: z.unknown().optional(),
  currency: z.unknown().optional(),
  successTime: z.unknown().optional(),
});

export type UnifiedCancelData = z.infer<typeof cancelData>;

/** Seed 000 times are 13-digit milliseconds; a 10-digit value is seconds. Anything else: not known. */
export function epochMs(value: unknown): number | undefined {
  const text =
    typeof value === 'number' && Number.isSafeInteger(value)
      ? String(value)
      : typeof value === 'string'
        ? value.trim()
        : '';
  if (/^\d{13}$/.test(text)) return Number(text);
  if (/^\d{10}$/.test(text)) return Number(text) * 1000;
  return undefined;
}

/** `payAmount` is in minor units (cents) already; undefined when it is not a whole amount with a currency. */
function amountOf(payAmount: unknown, currency: unknown): Money | undefined {
  const minor =
    typeof payAmount === 'number'
      ? payAmount
      : typeof payAmount === 'string' && /^\d{1,16}$/.test(payAmount.trim())
        ? Number(payAmount.trim())
        : Number.NaN;
  if (!Number.isSafeInteger(minor) || minor < 0) return undefined;
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) return undefined;
  return { minor, currency: currency.toUpperCase() };
}

function orderFacts(data: UnifiedCancelData): OrderFacts {
  const amount = amountOf(data.payAmount, data.currency);
  return {
    ...(data.payOrderId ? { payOrderId: data.payOrderId } : {}),
    ...(data.mchOrderNo ? { mchOrderNo: data.mchOrderNo } : {}),
    ...(amount ? { amount } : {}),
  };
}

/** Maps a verified cancel order (seed 000 data) onto our outcome. */
export function outcomeOfCancelData(data: UnifiedCancelData): CancelOutcome {
  const providerCancelId = data.cancelOrderId;
  const facts = orderFacts(data);
  const channelOrderNo = data.channelOrderNo ? { channelOrderNo: data.channelOrderNo } : {};
  switch (data.state) {
    case 2: {
      const successTime = epochMs(data.successTime);
      return {
        kind: 'cancelled',
        providerCancelId,
        ...channelOrderNo,
        ...(successTime ? { successTime } : {}),
        ...facts,
      };
    }
    case 3:
    case 4:
      return {
        kind: 'refused',
        state: data.state,
        code: data.errCode ?? (data.state === 3 ? 'CANCEL_FAILED' : 'CANCEL_CLOSED'),
        message:
          data.errMsg ??
          (data.state === 3 ? 'the gateway reports the cancel failed' : 'the gateway closed the cancel'),
        providerCancelId,
        ...channelOrderNo,
        ...facts,
      };
    default:
      return { kind: 'pending', state: data.state as 0 | 1, providerCancelId, ...facts };
  }
}

/** What the adapter asked about: an answer about another order or cancel order is `MISADDRESSED`. */
export interface UnifiedAnswerContext {
  /** Our order numbers, where we know them. */
  order: OrderRef;
  /** The gateway's cancel id we asked about: required for a query, known on a repeated cancel. */
  providerCancelId?: string;
}

/** An identifier as text; anything that is not text or a number cannot name our order. */
function idOf(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string'
    ? value
    : typeof value === 'number'
      ? String(value)
      : JSON.stringify(value);
}

/** Why the answer's data names another order or cancel order than we asked about, if it does. */
function misaddressed(data: Record<string, unknown>, context: UnifiedAnswerContext): string | undefined {
  const checks = [
    ['cancelOrderId', context.providerCancelId],
    ['payOrderId', context.order.payOrderId],
    ['mchOrderNo', context.order.mchOrderNo],
  ] as const;
  for (const [name, ours] of checks) {
    const named = idOf(data[name]);
    if (ours && named !== undefined && named !== ours)
      return `answer about another order: asked ${name} ${JSON.stringify(ours)}, answer names ${name} ${JSON.stringify(named)}`;
  }
  return undefined;
}

const answerEnvelope = z.object({
  code: z.union([
    z.number().int(),
    z
      .string()
      .regex(/^-?\d+$/)
      .transform(Number),
  ]),
  msg: z.string().nullish(),
  sign: z.string().nullish(),
  data: z.record(z.string(), z.unknown()).nullish(),
});

export interface UnifiedClassification {
  outcome: CancelOutcome;
  signature: SignatureVerdict;
}

/**
 * Classifies an upstream gateway's answer to cancel or cancel query. A code-0 answer must carry a
 * valid MD5 signature over `data` and be about what `context` asked; an error answer (code ≠ 0) may
 * be unsigned. A refusal carries the gateway's own code and message (`9999`, or the channel's
 * `errCode` / `errMsg` of a failed cancel order).
 */
/** How a gateway says it does not know the order or cancel order (seed 000 has no code for it). */
const NOT_FOUND_MESSAGE = /does not exist|not exist|not found/i;

/**
 * How a gateway says it failed itself rather than refused us (seed 000: any code ≠ 0 is a
 * "processing error"; Jeepay-style gateways answer 9999 for an exception too, possibly after the
 * cancel order was created): an unknown outcome, never a refusal that would end the cancellation.
 * These words win over the words of our own misconfiguration ("Merchant system busy" is not our
 * merchant refused).
 */
const GATEWAY_TROUBLE_MESSAGE =
  /system (error|busy|exception|failure)|\bbusy\b|internal (server )?error|service unavailable|系统(异常|错误|繁忙)/i;
/**
 * A call of the gateway's that timed out (its channel's, upstream, the network): trouble, the cancel
 * may have been taken. An *order* or a payment that timed out ("order timeout", 订单已超时) is not:
 * it expired, and a cancel of it is refused. So a timeout counts only with what timed out named.
 */
const TIMEOUT_SUBJECT =
  '(upstream|channel|gateway|network|connection|connect|socket|read|request|response|call|service|3rd[- ]party|third[- ]party)';
const GATEWAY_TIMEOUT_MESSAGE = new RegExp(
  `\\b${TIMEOUT_SUBJECT}\\b[^,.;:]{0,20}\\b(timed? ?out|time[- ]?outs?)\\b|` +
    `\\btime[- ]?outs?\\b[^,.;:]{0,20}\\b(calling|connecting|from|to|of|at|in)\\b[^,.;:]{0,12}\\b${TIMEOUT_SUBJECT}\\b|` +
    '(请求|网络|连接|渠道|上游|调用|服务)超时',
  'i',
);
/** "Try again later" alone: trouble, unless the message also names our own misconfiguration. */
const TRY_AGAIN_MESSAGE = /try again|retry later|稍后/i;

export function classifyUnifiedAnswer(
  operation: ProviderOperation,
  answer: HttpAnswer,
  key: string,
  context: UnifiedAnswerContext,
): UnifiedClassification {
  const unknown = (
    reason: string,
    signature: SignatureVerdict = 'not-checked',
    code?: string,
    notFound?: true,
  ): UnifiedClassification => ({
    outcome: { kind: 'unknown', reason, ...(code ? { code } : {}), ...(notFound ? { notFound } : {}) },
    signature,
  });
  if (!answer.ok) return unknown(`transport: ${answer.error}`, 'not-checked', answer.code);
  if (answer.status >= 500) return unknown(`HTTP ${answer.status}`, 'not-checked', `HTTP_${answer.status}`);
  // Gateways answer 200 with an empty body on internal errors: an unknown outcome.
  if (answer.body.trim() === '') return unknown(`empty body (HTTP ${answer.status})`);
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    return unknown(`body is not JSON (HTTP ${answer.status})`);
  }
  const parsed = answerEnvelope.safeParse(json);
  if (!parsed.success)
    return unknown(
      `malformed answer: ${parsed.error.issues[0]?.path.join('.') || '(root)'} ${parsed.error.issues[0]?.message ?? ''}`.trim(),
    );
  const { code, msg, sign, data } = parsed.data;

  if (code !== 0) {
    const message = msg || `error code ${code}`;
    const errorCode = String(code);
    if (answer.status >= 400 && answer.status !== 400)
      return unknown(`HTTP ${answer.status}: ${message}`, 'not-required', `HTTP_${answer.status}`);
    // An error answer that names another order or cancel order is not about ours.
    const elsewhere = data ? misaddressed(data, context) : undefined;
    if (elsewhere) return unknown(elsewhere, 'not-required', 'MISADDRESSED');
    // A stale reqTime is retried with a fresh one, like PayBy's REQUESTTIME_TOO_EARLY/LATER.
    if (/req\s*time|request time/i.test(message))
      return unknown(`reqTime refused: ${message}`, 'not-required', 'REQTIME');
    // Seed 000 gives no code for "no such order": gateways say it in words.
    const notFound = NOT_FOUND_MESSAGE.test(message) ? (true as const) : undefined;
    // The gateway's own trouble (not a refusal of ours): the cancel may or may not have been taken.
    const trouble = () => unknown(`the gateway failed: code ${code} ${message}`, 'not-required', errorCode);
    if (!notFound && (GATEWAY_TROUBLE_MESSAGE.test(message) || GATEWAY_TIMEOUT_MESSAGE.test(message)))
      return trouble();
    // Our signature, merchant/app identity or parameters refused: no retry fixes that.
    if (/sign|merchant|\bapp|mchNo|parameter|version/i.test(message)) {
      return {
        outcome: {
          kind: 'misconfigured',
          code: errorCode,
          message: `the gateway refused our request: ${message}`,
        },
        signature: 'not-required',
      };
    }
    if (!notFound && TRY_AGAIN_MESSAGE.test(message)) return trouble();
    // A query error tells us nothing about the cancel; a cancel error is the gateway's refusal.
    if (operation === 'query')
      return unknown(`query refused: code ${code} ${message}`, 'not-required', errorCode, notFound);
    return {
      outcome: { kind: 'refused', state: 3, code: errorCode, message, ...(notFound ? { notFound } : {}) },
      signature: 'not-required',
    };
  }

  if (!data) return unknown('code 0 without data', 'missing');
  if (!sign) return unknown('code 0 answer carries no sign', 'missing', 'BAD_SIGNATURE');
  if (!verifyMd5Sign(data, sign, key))
    return unknown('answer signature does not verify', 'invalid', 'BAD_SIGNATURE');
  const fields = cancelData.safeParse(data);
  if (!fields.success) {
    const issue = fields.error.issues[0];
    return unknown(`malformed data: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(), 'valid');
  }
  // A query answer must name the cancel order we asked about (cancelData requires it present).
  const elsewhere =
    operation === 'query' && !context.providerCancelId
      ? 'the query named no cancel order, so no answer can be about it'
      : misaddressed(data, context);
  if (elsewhere) return unknown(elsewhere, 'valid', 'MISADDRESSED');
  return { outcome: outcomeOfCancelData(fields.data), signature: 'valid' };
}
