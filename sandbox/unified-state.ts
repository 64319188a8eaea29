/** The Unified sandbox's state: the behaviours a test sets, the orders and cancel orders it keeps. */
import { utcStamp } from '../common/ids';
import type { SandboxFault } from './http';

/** What the order's cancel ends in. `paid`/`settled` → state 3, `failed` (the order already failed) → state 4. */
export type UnifiedResult = 'cancelled' | 'paid' | 'settled' | 'failed' | 'closed';

export interface UnifiedOrderBehaviour {
  payOrderId?: string;
  mchOrderNo?: string;
  amountMinor?: number;
  currency?: string;
  result?: UnifiedResult;
  /** Answer state 1 to the cancel and to the first N queries, then the result. */
  pendingQueries?: number;
  /** Answer state 1 until this many ms after the cancel, then the result (and the notification). */
  settleAfterMs?: number;
  /** Faults answered to the first N requests about this order (either operation). */
  faults?: SandboxFault[];
  /** Apply the cancel, then drop the connection without answering (once). */
  loseCancelResponse?: boolean;
  /** Sign answers with a key that is not the app's. */
  badSignature?: boolean;
  /** Answer with broken JSON. */
  malformedJson?: boolean;
  /** Send no Cancel Notification for this order. */
  silent?: boolean;
  /**
   * Refuse a repeated cancel of an order that already has a cancel order with `{code: 9999, msg}`
   * (e.g. "order status not allowed") instead of answering with that cancel order. With
   * `loseCancelResponse`: the cancel happened, its answer was lost, and the repeat is refused.
   */
  repeatRefusal?: string;
  /**
   * Correctly signed answers about another order: another cancelOrderId in cancel and query
   * answers, another payOrderId in query answers.
   */
  misaddressed?: boolean;
  /**
   * Answer a cancel with the signed answer given to this other cancel order (a replay: seed 000's
   * cancel answer names the cancel order only); no cancel order is made for this order.
   */
  replayCancelAnswerOf?: string;
}

export interface UnifiedCancelOrder {
  cancelOrderId: string;
  state: 0 | 1 | 2 | 3 | 4;
  createdAt: number;
  successTime?: number;
  errCode: string;
  errMsg: string;
  channelOrderNo: string;
  notifyUrl?: string;
  extParam: string;
  queries: number;
}

export interface OrderState extends UnifiedOrderBehaviour {
  payOrderId: string;
  /** The other order and cancel order that `misaddressed` answers name. */
  elsewhere?: { payOrderId: string; cancelOrderId: string };
  requests: number;
  calls: Array<'cancel' | 'query'>;
  cancel?: UnifiedCancelOrder;
}

export interface NotificationAttempt {
  cancelOrderId: string;
  url: string;
  attempt: number;
  at: number;
  params: Record<string, string>;
  answer?: string;
  status?: number;
  error?: string;
}

export interface UnifiedSandboxOptions {
  mchNo: string;
  appId: string;
  key: string;
  /** Refuse a reqTime further than this from our clock. Default 10 min. */
  reqTimeWindowMs?: number;
  /** Multiplier of the seed's notification schedule; 1 = real seconds. Default 1. */
  notifyScale?: number;
  /** Behaviour of orders nobody set up (standalone mode); undefined → "order not found". */
  defaultBehaviour?: (ref: { payOrderId?: string; mchOrderNo?: string }) => UnifiedOrderBehaviour | undefined;
  port?: number;
  host?: string;
}

export function timestampId(prefix: string, seq: number, at = new Date()): string {
  return `${prefix}${utcStamp(at)}${String(seq % 10_000).padStart(4, '0')}`;
}

/** The orders a Unified sandbox keeps, and the sequence its ids count. */
export interface UnifiedStore {
  /** By `pay:<payOrderId>` and `mch:<mchOrderNo>`. */
  orders: Map<string, OrderState>;
  byCancelId: Map<string, OrderState>;
  /** The counter behind the last digits of the ids it makes (payOrderId, cancelOrderId, channelOrderNo). */
  seq: number;
  register(behaviour: UnifiedOrderBehaviour): OrderState;
  find(ref: { payOrderId?: string; mchOrderNo?: string }): OrderState | undefined;
}

/** An empty store; orders nobody set up come from `options.defaultBehaviour` when asked about. */
export function createUnifiedStore(options: UnifiedSandboxOptions): UnifiedStore {
  const orders = new Map<string, OrderState>();
  const byCancelId = new Map<string, OrderState>();

  const register = (behaviour: UnifiedOrderBehaviour): OrderState => {
    const payOrderId = behaviour.payOrderId ?? timestampId('P', ++store.seq);
    const state: OrderState = {
      ...behaviour,
      payOrderId,
      ...(behaviour.misaddressed
        ? {
            elsewhere: {
              payOrderId: timestampId('P', ++store.seq),
              cancelOrderId: timestampId('C', ++store.seq),
            },
          }
        : {}),
      requests: 0,
      calls: [],
    };
    orders.set(`pay:${payOrderId}`, state);
    if (behaviour.mchOrderNo) orders.set(`mch:${behaviour.mchOrderNo}`, state);
    return state;
  };
  const find = (ref: { payOrderId?: string; mchOrderNo?: string }): OrderState | undefined => {
    const known = ref.payOrderId
      ? orders.get(`pay:${ref.payOrderId}`)
      : ref.mchOrderNo
        ? orders.get(`mch:${ref.mchOrderNo}`)
        : undefined;
    if (known) return known;
    const fallback = options.defaultBehaviour?.(ref);
    return fallback ? register({ ...fallback, ...ref }) : undefined;
  };
  const store: UnifiedStore = { orders, byCancelId, seq: 0, register, find };
  return store;
}
