/** The PayBy sandbox's state: the behaviours a test sets, and the store of orders and refunds it keeps. */
import type { KeyObject } from 'node:crypto';
import { decimalToMinor } from '../common/money';
import type { SandboxFault } from './http';

export type PaybyOrderStatus = 'CREATED' | 'PAID_SUCCESS' | 'SETTLED' | 'FAILURE';
export type PaybyRefundStatus = 'CREATED' | 'REFUNDED_SETTLED' | 'SUCCESS' | 'FAILURE';
export type PaybyFault = SandboxFault;
/** The requests an order saw, in order. */
export type PaybySandboxCall = 'cancel' | 'query' | 'revoke' | 'refund' | 'refund-query';

export interface PaybyOrderBehaviour {
  status: PaybyOrderStatus;
  /** Decimal major units as PayBy sends them, e.g. 21.74. */
  amount?: number;
  /** What the payer paid (`paymentInfo.paidAmount`), less than `amount` with a discount; default `amount`. */
  paidAmount?: number;
  currency?: string;
  /** Faults answered to the first N requests about this order (any operation). */
  faults?: PaybyFault[];
  /** Apply the cancel, then drop the connection without answering (once). */
  loseCancelResponse?: boolean;
  /** Sign answers with a key that is not PayBy's. */
  badSignature?: boolean;
  /** Answer with broken JSON. */
  malformedJson?: boolean;
  /** Correctly signed answers whose acquireOrder (or refundOrder) names another order (or refund). */
  misaddressed?: boolean;
  /** `paymentInfo.paidTime` (epoch ms) of a paid order; default: when a PAID_SUCCESS/SETTLED order is set up. */
  paidAt?: number;
  /** Apply the revoke, then drop the connection without answering (once). */
  loseRevokeResponse?: boolean;
  /** The first N revokeOrder requests answer HTTP 504 SERVICE_TIMEOUT without applying anything. */
  failFirstRevokes?: number;
  /** Every (other) revokeOrder is refused with this code and message, nothing applied. */
  revokeRefusal?: { code: string; msg: string };
  /**
   * getOrder lags a revoke: the next N getOrder answers after a revoke is applied still show the
   * order as it was before it (a repeated revoke is answered from the current state).
   */
  staleQueriesAfterRevoke?: number;
  /** Record the refund, then drop the connection without answering (once). */
  loseRefundResponse?: boolean;
  /** A refund answers CREATED to its first N refund queries, then it is final (default 0). */
  refundSucceedsAfterQueries?: number;
  /** The refund ends FAILURE (failCode 62045 REFUND_REJECTED) instead of SUCCESS. */
  refundFails?: boolean;
  /**
   * placeOrder with a refund id PayBy already has: `exists` answers 62017
   * REFUND_MERCHANT_ORDER_NO_EXIST, as PayBy documents (default); `same` answers that refund again;
   * `refunded` refuses it as 62041 ACQUIRE_ORDER_REFUNDED (the order's money is back already).
   */
  repeatedRefund?: 'exists' | 'same' | 'refunded';
  /** refund/getOrder lags placeOrder: its first N queries of a placed refund answer 62004 (not found). */
  staleRefundQueries?: number;
}

export interface PaybySandboxRefund {
  /** Ours. */
  refundMerchantOrderNo: string;
  /** PayBy's. */
  orderNo: string;
  /** The paid order (its merchantOrderNo, the key of `order()`). */
  originMerchantOrderNo: string;
  originOrderNo: string;
  amountMinor: number;
  currency: string;
  status: PaybyRefundStatus;
  /** refund/getOrder requests answered for it. */
  queries: number;
  reason?: string;
}

export interface PaybySandboxOptions {
  merchantPublicKey: KeyObject;
  providerPrivateKey: KeyObject;
  /** Used when `badSignature` is set. */
  wrongPrivateKey: KeyObject;
  /** Behaviour of orders nobody set up (standalone mode); undefined → "order not found". */
  defaultBehaviour?: (ref: { merchantOrderNo?: string; orderNo?: string }) => PaybyOrderBehaviour | undefined;
  port?: number;
  host?: string;
}

export interface PaybySandboxOrder extends PaybyOrderBehaviour {
  merchantOrderNo: string;
  orderNo: string;
  /** Requests about this order so far (the index into `faults`). */
  requests: number;
  calls: PaybySandboxCall[];
  /** Paid, then revoked: getOrder shows `revoked: "true"`. */
  revoked: boolean;
  /** What getOrder still shows while it lags a revoke (`staleQueriesAfterRevoke`), and for how many more. */
  lagging?: { status: PaybyOrderStatus; revoked: boolean; queries: number };
  /** `paymentInfo.paidTime`, once the order is paid. */
  paidTime?: number;
  /** Money PayBy moved back for this order: revokes of a paid order applied, refunds recorded. */
  revokes: number;
  refunds: number;
}

export const DEFAULT_AMOUNT = 21.74;
export const DEFAULT_CURRENCY = 'AED';

/** The orders and refunds a PayBy sandbox keeps, and what its routes ask of them. */
export function createPaybyStore(options: PaybySandboxOptions) {
  const orders = new Map<string, PaybySandboxOrder>();
  const refunds = new Map<string, PaybySandboxRefund>();
  let nextOrderNo = 131422372621000000n;
  let nextRefundNo = 191405406113000000n;

  const register = (merchantOrderNo: string, behaviour: PaybyOrderBehaviour, orderNo?: string) => {
    const paid = behaviour.status === 'PAID_SUCCESS' || behaviour.status === 'SETTLED';
    const paidTime = paid ? (behaviour.paidAt ?? Date.now()) : undefined;
    const state: PaybySandboxOrder = {
      ...behaviour,
      merchantOrderNo,
      orderNo: orderNo ?? String(nextOrderNo++),
      requests: 0,
      calls: [],
      revoked: false,
      ...(paidTime !== undefined ? { paidTime } : {}),
      revokes: 0,
      refunds: 0,
    };
    orders.set(merchantOrderNo, state);
    return state;
  };
  const totalMinor = (order: PaybySandboxOrder) =>
    decimalToMinor(order.amount ?? DEFAULT_AMOUNT, order.currency ?? DEFAULT_CURRENCY);
  const refundsOf = (order: PaybySandboxOrder) =>
    [...refunds.values()].filter((r) => r.originMerchantOrderNo === order.merchantOrderNo);
  const paidMinor = (order: PaybySandboxOrder) =>
    decimalToMinor(order.paidAmount ?? order.amount ?? DEFAULT_AMOUNT, order.currency ?? DEFAULT_CURRENCY);
  /** What is left to refund: what was paid less every refund that has not failed. */
  const refundable = (order: PaybySandboxOrder) =>
    paidMinor(order) -
    refundsOf(order)
      .filter((r) => r.status !== 'FAILURE')
      .reduce((sum, r) => sum + r.amountMinor, 0);
  const find = (biz: { merchantOrderNo?: string; orderNo?: string }) => {
    const known = biz.orderNo
      ? [...orders.values()].find((o) => o.orderNo === biz.orderNo)
      : orders.get(biz.merchantOrderNo ?? '');
    if (known) return known;
    const fallback = options.defaultBehaviour?.(biz);
    if (!fallback) return undefined;
    return register(biz.merchantOrderNo ?? `M${biz.orderNo}`, fallback, biz.orderNo);
  };
  return {
    orders,
    refunds,
    register,
    totalMinor,
    refundsOf,
    refundable,
    find,
    /** PayBy's number for the next refund it records. */
    nextRefundOrderNo: () => String(nextRefundNo++),
  };
}

export type PaybyStore = ReturnType<typeof createPaybyStore>;
