import type { SettleInput } from '../contract/cancellation';
import { completeRecord, whatRepairMade, type RepairMade } from './callbacks';
import type { ActivityDeps } from './deps';

/** What the merchant is told of a cancellation ops settled as FAILED (the evidence stays with us). */
export const SETTLED_BY_HAND = {
  code: 'SETTLED_BY_HAND',
  message: 'the cancel did not happen: settled by the operator after checking with the provider',
} as const;

/**
 * Ops' verdict on a cancellation no run or repair can decide (`cancelflow settle`): the final
 * transition written as a repair (under the row lock, the next seq; never over a final or retired
 * record), its reason naming the operator and the evidence, then shown in Temporal and notified
 * like any repair. A Unified refusal after a lost cancel holds a repair back (`completeRecord`);
 * here the operator has checked with the provider, so it does not.
 */
export function createSettleActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    async settleByHand(input: SettleInput): Promise<RepairMade> {
      const row = await db('cancellations')
        .where({ cancel_order_id: input.cancelOrderId })
        .first<{ status: string } | undefined>('status');
      if (!row) return { applied: false, reason: 'no such cancellation', notify: false };
      const by = `settled by hand by ${input.operator}: ${input.evidence}`;
      const done = await completeRecord(
        db,
        input.cancelOrderId,
        input.status === 'SUCCEEDED'
          ? { kind: 'cancelled' }
          : { kind: 'refused', state: 3, ...SETTLED_BY_HAND },
        by,
        { byHand: true },
      );
      return whatRepairMade(deps, input.cancelOrderId, done, by);
    },
  };
}
