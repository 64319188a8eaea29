import { z } from 'zod';
import { verifyEnvelope } from './sign';
import { outcomeOfCancelData } from './classify';
import type { CancelOutcome } from '../types';

const notificationFields = z.object({
  cancelOrderId: z.string().min(1).max(30),
  payOrderId: z.string().max(30).optional(),
  mchNo: z.string().min(1).max(30),
  appId: z.string().min(1).max(24),
  state: z
    .string()
    .regex(/^[0-4]$/)
    .transform(Number),
  // The signed state decides; amount and time only inform (read leniently by outcomeOfCancelData).
  payAmount: z.string().optional(),
  currency: z.string().optional(),
  channelOrderNo: z.string().optional(),
  errCode: z.string().optional(),
  errMsg: z.string().optional(),
  successTime: z.string().optional(),
  reqTime: z.string().regex(/^\d{10,13}$/),
  sign: z.string(),
});

export type NotificationVerdict =
  | { verdict: 'valid'; cancelOrderId: string; state: number; outcome: CancelOutcome }
  | { verdict: 'invalid-signature' | 'malformed'; reason: string; cancelOrderId?: string };

/**
 * Verifies an inbound seed-000 Cancel Notification. The signature covers every posted parameter
 * except `sign`, so it is checked over what was received, not over a fixed field list.
 */
export function verifyCancelNotification(params: Record<string, string>, key: string): NotificationVerdict {
  const cancelOrderId = typeof params.cancelOrderId === 'string' ? params.cancelOrderId : undefined;
  if (!verifyEnvelope(params, key)) {
    return {
      verdict: 'invalid-signature',
      reason: params.sign ? 'signature does not verify' : 'no sign',
      ...(cancelOrderId ? { cancelOrderId } : {}),
    };
  }
  const parsed = notificationFields.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      verdict: 'malformed',
      reason: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`,
      ...(cancelOrderId ? { cancelOrderId } : {}),
    };
  }
  const n = parsed.data;
  // The outcome carries the notification's payOrderId (OrderFacts): the caller compares it with ours.
  const outcome = outcomeOfCancelData({
    cancelOrderId: n.cancelOrderId,
    state: n.state,
    channelOrderNo: n.channelOrderNo || undefined,
    errCode: n.errCode || undefined,
    errMsg: n.errMsg || undefined,
    payOrderId: n.payOrderId || undefined,
    mchOrderNo: undefined,
    payAmount: n.payAmount,
    currency: n.currency,
    successTime: n.successTime,
  });
  return { verdict: 'valid', cancelOrderId: n.cancelOrderId, state: n.state, outcome };
}
