import type { SettleInput } from '../contract/cancellation';
import { completeRecord, whatRepairMade, type RepairMade } from './callbacks';
import type { ActivityDeps } from './deps';

/** What the merchant is told of a cancellation ops settled as FAILED (the evidence stays with us). */
export const SETTLED_BY_HAND = {
  code: 'SETTLED_BY_HAND',
  message: 'the cancel did not happen: settled by the operator after checking with the provider',
} as const;

/** The reason kept in the final transition: who settled it, and on what evidence. */
const settledBy = (input: Pick<SettleInput, 'operator' | 'evidence'>) =>
  `settled by hand by ${input.operator}: ${input.evidence}`;

/**
 * Ops' verdict on a cancellation no run or repair can decide (`cancelflow settle`): the final
 * transition written as a repair (under the row lock, the next seq; never over a final or retired
 * record, nor over one that changed since ops looked: another state, or a run that took it over),
 * its reason naming the operator and the evidence, then shown in Temporal and notified like any
 * repair. A Unified refusal after a lost cancel holds a repair back (`completeRecord`); here the
 * operator has checked with the provider, so it does not. Not written: `status` is the row's now.
 */
export function createSettleActivities(deps: ActivityDeps) {
  const { db } = deps;
  const statusOf = async (cancelOrderId: string) =>
    (
      await db('cancellations')
        .where({ cancel_order_id: cancelOrderId })
        .first<{ status: string } | undefined>('status')
    )?.status;
  return {
    async settleByHand(input: SettleInput): Promise<RepairMade> {
      const by = settledBy(input);
      const done = await completeRecord(
        db,
        input.cancelOrderId,
        input.status === 'SUCCEEDED'
          ? {
              kind: 'cancelled',
              ...(input.successTime !== undefined ? { successTime: input.successTime } : {}),
              ...(input.channelOrderNo ? { channelOrderNo: input.channelOrderNo } : {}),
            }
          : { kind: 'refused', state: 3, ...SETTLED_BY_HAND },
        by,
        { byHand: { expect: input.expected } },
      );
      const made = await whatRepairMade(deps, input.cancelOrderId, done, by);
      if (made.applied) return made;
      // Not written (a missing row is `changed` too): say what the row holds now.
      const now = await statusOf(input.cancelOrderId);
      return now
        ? { ...made, status: now }
        : { applied: false, reason: 'no such cancellation', notify: false };
    },
  };
}
