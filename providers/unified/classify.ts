import { z } from 'zod';
import type { HttpAnswer } from '../http';
import type { CancelOutcome, ProviderOperation, SignatureVerdict } from '../types';
import { verifyMd5Sign } from './sign';

const optionalText = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => (v === null || v === undefined || v === '' ? undefined : String(v)));
const timestamp = z.union([z.number().int(), z.string().regex(/^\d{10,13}$/)]).nullish();

const cancelData = z.object({
  cancelOrderId: z.string().min(1).max(30),
  state: z
    .union([z.number().int(), z.string().regex(/^\d$/).transform(Number)])
    .pipe(z.number().int().min(0).max(4)),
  channelOrderNo: optionalText,
  errCode: optionalText,
  errMsg: optionalText,
  payOrderId: optionalText,
  payAmount: z
    .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)])
    .optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  successTime: timestamp,
});

export type UnifiedCancelData = z.infer<typeof cancelData>;

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

/** Maps a verified cancel order (seed 000 data) onto our outcome. */
export function outcomeOfCancelData(data: UnifiedCancelData): CancelOutcome {
  const providerCancelId = data.cancelOrderId;
  switch (data.state) {
    case 2:
      return {
        kind: 'cancelled',
        providerCancelId,
        ...(data.channelOrderNo ? { channelOrderNo: data.channelOrderNo } : {}),
        ...(data.successTime ? { successTime: Number(data.successTime) } : {}),
        ...(data.payAmount !== undefined && data.currency
          ? { amount: { minor: data.payAmount, currency: data.currency } }
          : {}),
      };
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
        ...(data.channelOrderNo ? { channelOrderNo: data.channelOrderNo } : {}),
      };
    default:
      return { kind: 'pending', state: data.state as 0 | 1, providerCancelId };
  }
}

export interface UnifiedClassification {
  outcome: CancelOutcome;
  signature: SignatureVerdict;
}

/**
 * Classifies an upstream gateway's answer to cancel or cancel query. A code-0 answer must carry a
 * valid MD5 signature over `data`; an error answer (code ≠ 0) may be unsigned.
 */
export function classifyUnifiedAnswer(
  operation: ProviderOperation,
  answer: HttpAnswer,
  key: string,
): UnifiedClassification {
  const unknown = (
    reason: string,
    signature: SignatureVerdict = 'not-checked',
    code?: string,
  ): UnifiedClassification => ({
    outcome: { kind: 'unknown', reason, ...(code ? { code } : {}) },
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
    const message = msg ?? `error code ${code}`;
    if (answer.status >= 400 && answer.status !== 400)
      return unknown(`HTTP ${answer.status}: ${message}`, 'not-required', `HTTP_${answer.status}`);
    // A stale reqTime is retried with a fresh one, like PayBy's REQUESTTIME_TOO_EARLY/LATER.
    if (/req\s*time|request time/i.test(message))
      return unknown(`reqTime refused: ${message}`, 'not-required', 'REQTIME');
    // Our signature, merchant/app identity or parameters refused: no retry fixes that.
    if (/sign|merchant|\bapp|mchNo|parameter|version/i.test(message)) {
      return {
        outcome: {
          kind: 'misconfigured',
          code: `UNIFIED_${code}`,
          message: `the gateway refused our request: ${message}`,
        },
        signature: 'not-required',
      };
    }
    // A query error tells us nothing about the cancel; a cancel error is the gateway's refusal.
    if (operation === 'query')
      return unknown(`query refused: code ${code} ${message}`, 'not-required', `UNIFIED_${code}`);
    return {
      outcome: { kind: 'refused', state: 3, code: `UNIFIED_${code}`, message },
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
  return { outcome: outcomeOfCancelData(fields.data), signature: 'valid' };
}
