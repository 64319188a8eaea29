import type { PaybySandbox } from '../../sandbox/payby';
import type { UnifiedSandbox } from '../../sandbox/unified';
import type { CancellationRow, PostgresFacts, TemporalFacts } from './collect';
import type { PlannedOrder, RequestRecord } from './load';
import type { MerchantApp } from './northbound';
import type { JournalEntry } from './proxy';
import type { ReceivedNotification } from './receiver';

/**
 * The sources the invariants are checked from, and the indexes both the checks and the measures
 * use: rows by id and by (app, order), the plan by (app, order), the requests and what each order
 * ended in at its provider (the sandbox's own state: the truth).
 */

export interface Sources {
  orders: PlannedOrder[];
  records: RequestRecord[];
  apps: MerchantApp[];
  pg: PostgresFacts;
  tf: TemporalFacts;
  payby: PaybySandbox;
  unified: UnifiedSandbox;
  journals: { payby: JournalEntry[]; unified: JournalEntry[] };
  received: ReceivedNotification[];
  deadlineMs: number;
  unresolvedHoldMs: number;
  notificationScheduleMs: number[];
  checkedAt: number;
}

/** What the provider's own state says the cancellation ended in; null: it has not decided. */
export function truthOf(o: PlannedOrder, payby: PaybySandbox, unified: UnifiedSandbox): 2 | 3 | 4 | null {
  if (!o.sandboxRef) return 3; // PayBy has no such order: 62004, a final refusal
  if (o.provider === 'payby') {
    const status = payby.order(o.sandboxRef)?.status;
    return status === 'FAILURE' ? 2 : status === 'PAID_SUCCESS' || status === 'SETTLED' ? 3 : null;
  }
  const state = unified.order(o.sandboxRef)?.cancel?.state;
  return state === 2 || state === 3 || state === 4 ? state : null;
}

export const pairKey = (mchNo: string, appId: string, orderRef: string) => `${mchNo}|${appId}|${orderRef}`;

export type Index = ReturnType<typeof indexSources>;

export function indexSources(s: Sources) {
  const rowById = new Map(s.pg.rows.map((r) => [r.cancel_order_id, r]));
  const activeByPair = new Map<string, CancellationRow[]>();
  for (const r of s.pg.rows)
    if (!r.retired_at) {
      const k = pairKey(r.mch_no, r.app_id, r.order_ref);
      activeByPair.set(k, [...(activeByPair.get(k) ?? []), r]);
    }
  const keyOf = (o: PlannedOrder) => pairKey(o.app.mchNo, o.app.appId, o.orderRef);
  const orderByKey = new Map(s.orders.map((o) => [keyOf(o), o]));
  const recordsOf = new Map<string, RequestRecord[]>();
  for (const r of s.records) recordsOf.set(keyOf(r.order), [...(recordsOf.get(keyOf(r.order)) ?? []), r]);
  const accepted = s.records.filter((r) => r.acceptedAt !== undefined);
  const acceptedPairs = [...new Set(accepted.map((r) => keyOf(r.order)))].map((k) => orderByKey.get(k)!);
  const truth = new Map(s.orders.map((o) => [keyOf(o), truthOf(o, s.payby, s.unified)]));
  const label = (o: PlannedOrder) => `#${o.i} ${o.app.name} ${o.orderRef} (${o.behaviour})`;
  const byCancel = new Map<string, ReceivedNotification[]>();
  for (const n of s.received) {
    const id = n.params.cancelOrderId ?? '';
    byCancel.set(id, [...(byCancel.get(id) ?? []), n]);
  }
  return {
    rowById,
    activeByPair,
    keyOf,
    orderByKey,
    recordsOf,
    accepted,
    acceptedPairs,
    truth,
    label,
    byCancel,
  };
}

/** Unified cancels beyond the first per order: how a gateway without a known cancel id is asked. */
export function unifiedRepeatedCancels(s: Sources): number {
  let n = 0;
  for (const o of s.orders)
    if (o.provider === 'unified' && o.sandboxRef)
      n += Math.max(0, (s.unified.order(o.sandboxRef)?.calls ?? []).filter((c) => c === 'cancel').length - 1);
  return n;
}
