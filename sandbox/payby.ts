import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { AmountError, decimalToMinor, minorToDecimal } from '../common/money';
import { JsonDecimal, toJsonText, type JsonText } from '../providers/payby/json-text';
import { rsaSign, rsaVerify } from '../providers/payby/sign';
import { answerTransportFault, readBody, tokenBucket, type SandboxFault } from './http';

/**
 * A PayBy simulator that speaks seed 002: `POST /acquire2/cancelOrder` and `/acquire2/getOrder`,
 * and for paid orders (PROVIDERS.md, "PayBy revoke and refund") `/acquire2/revokeOrder`,
 * `/acquire2/refund/placeOrder` and `/acquire2/refund/getOrder`. It verifies the merchant's RSA
 * signature (applyStatus ERROR when it fails), refuses a requestTime more than 15 minutes away,
 * keeps order and refund state, counts the money it moves, and signs every answer with its own key.
 * Each order's behaviour (faults included) is chosen by the test.
 */

export type PaybyOrderStatus = 'CREATED' | 'PAID_SUCCESS' | 'SETTLED' | 'FAILURE';
export type PaybyRefundStatus = 'CREATED' | 'REFUNDED_SETTLED' | 'SUCCESS' | 'FAILURE';
export type PaybyFault = SandboxFault;
/** The requests an order saw, in order. */
export type PaybySandboxCall = 'cancel' | 'query' | 'revoke' | 'refund' | 'refund-query';

export interface PaybyOrderBehaviour {
  status: PaybyOrderStatus;
  /** Decimal major units as PayBy sends them, e.g. 21.74. */
  amount?: number;
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
  /** Record the refund, then drop the connection without answering (once). */
  loseRefundResponse?: boolean;
  /** A refund answers CREATED to its first N refund queries, then it is final (default 0). */
  refundSucceedsAfterQueries?: number;
  /** The refund ends FAILURE (failCode 62045 REFUND_REJECTED) instead of SUCCESS. */
  refundFails?: boolean;
  /**
   * placeOrder with a refund id PayBy already has: `exists` answers 62017
   * REFUND_MERCHANT_ORDER_NO_EXIST, as PayBy documents (default); `same` answers that refund again.
   */
  repeatedRefund?: 'exists' | 'same';
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
  /** `paymentInfo.paidTime`, once the order is paid. */
  paidTime?: number;
  /** Money PayBy moved back for this order: revokes of a paid order applied, refunds recorded. */
  revokes: number;
  refunds: number;
}

export interface PaybySandbox {
  url: string;
  setOrder(merchantOrderNo: string, behaviour: PaybyOrderBehaviour, orderNo?: string): void;
  order(merchantOrderNo: string): PaybySandboxOrder | undefined;
  /** A refund by our refund id (`refundMerchantOrderNo`). */
  refund(refundMerchantOrderNo: string): PaybySandboxRefund | undefined;
  /**
   * PayBy's own rate limit: beyond `perSecond` (bursts of a tenth of a second allowed) a request
   * gets HTTP 429 with a plain-text body and is counted in `rateLimited`. Undefined: no limit.
   */
  setRateLimit(perSecond: number | undefined): void;
  readonly stats: { answered: number; rateLimited: number };
  close(): Promise<void>;
}

/** The neighbouring order's numbers, which a `misaddressed` answer names instead of ours. */
function anotherOrder(order: { merchantOrderNo: string; orderNo: string }) {
  return {
    merchantOrderNo: `${order.merchantOrderNo}1`,
    orderNo: /^\d+$/.test(order.orderNo) ? String(BigInt(order.orderNo) + 1n) : `${order.orderNo}1`,
  };
}

/** The neighbouring refund's ids, which a `misaddressed` refund answer names instead of ours. */
function anotherRefund(refund: PaybySandboxRefund) {
  return { refundMerchantOrderNo: `${refund.refundMerchantOrderNo}1`, orderNo: `${refund.orderNo}1` };
}

const PATHS: Record<string, PaybySandboxCall> = {
  '/acquire2/cancelOrder': 'cancel',
  '/acquire2/getOrder': 'query',
  '/acquire2/revokeOrder': 'revoke',
  '/acquire2/refund/placeOrder': 'refund',
  '/acquire2/refund/getOrder': 'refund-query',
};

const DEFAULT_AMOUNT = 21.74;
const DEFAULT_CURRENCY = 'AED';

/** Exactly one of two ids: PayBy refuses both or neither. */
const exactlyOne = (a: unknown, b: unknown): boolean =>
  (typeof a === 'string' && a !== '') !== (typeof b === 'string' && b !== '');

interface PaybyRequestBody {
  requestTime?: number;
  bizContent?: {
    merchantOrderNo?: string;
    orderNo?: string;
    refundMerchantOrderNo?: string;
    originMerchantOrderNo?: string;
    originOrderNo?: string;
    amount?: { currency?: unknown; amount?: unknown };
    reason?: string;
  };
}

export async function startPaybySandbox(options: PaybySandboxOptions): Promise<PaybySandbox> {
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
  /** What is left to refund: the total less every refund that has not failed. */
  const refundable = (order: PaybySandboxOrder) =>
    totalMinor(order) -
    refundsOf(order)
      .filter((r) => r.status !== 'FAILURE')
      .reduce((sum, r) => sum + r.amountMinor, 0);
  const money = (minor: number, currency: string) => ({
    currency,
    amount: new JsonDecimal(minorToDecimal(minor, currency)),
  });
  const find = (biz: { merchantOrderNo?: string; orderNo?: string }) => {
    const known = biz.orderNo
      ? [...orders.values()].find((o) => o.orderNo === biz.orderNo)
      : orders.get(biz.merchantOrderNo ?? '');
    if (known) return known;
    const fallback = options.defaultBehaviour?.(biz);
    if (!fallback) return undefined;
    return register(biz.merchantOrderNo ?? `M${biz.orderNo}`, fallback, biz.orderNo);
  };

  let bucket: ReturnType<typeof tokenBucket> | undefined;
  const stats = { answered: 0, rateLimited: 0 };

  const server = http.createServer((req, res) => {
    void readBody(req).then((raw) => {
      if (bucket && !bucket.take()) {
        stats.rateLimited += 1;
        res.writeHead(429, { 'content-type': 'text/plain' });
        return res.end('Too Many Requests');
      }
      stats.answered += 1;
      const answer = (
        head: Record<string, string>,
        body?: JsonText,
        order?: PaybySandboxOrder,
        status = 200,
      ): void => {
        const text = order?.malformedJson
          ? '{"head":{"applyStatus":"SUCCESS","code":"0"'
          : toJsonText(body ? { head, body } : { head });
        const key = order?.badSignature ? options.wrongPrivateKey : options.providerPrivateKey;
        res.writeHead(status, { 'content-type': 'application/json', sign: rsaSign(text, key) });
        res.end(text);
      };
      const fail = (code: string, msg: string, order?: PaybySandboxOrder) =>
        answer({ applyStatus: 'FAIL', code, msg }, undefined, order);
      const operation = req.method === 'POST' ? PATHS[req.url ?? ''] : undefined;
      if (!operation)
        return answer(
          { applyStatus: 'FAIL', code: '404', msg: 'SERVICE_NOT_AVAILABLE' },
          undefined,
          undefined,
          404,
        );
      if (
        !rsaVerify(raw, req.headers.sign as string | undefined, options.merchantPublicKey) ||
        !req.headers['partner-id']
      ) {
        return answer({ applyStatus: 'ERROR', code: '400', msg: 'sign verify failed' });
      }
      let request: PaybyRequestBody;
      try {
        request = JSON.parse(raw) as PaybyRequestBody;
      } catch {
        return fail('400', 'INVALID_PARAMETER');
      }
      const biz = request.bizContent ?? {};
      const wellFormed =
        typeof request.requestTime === 'number' &&
        (operation === 'refund'
          ? typeof biz.refundMerchantOrderNo === 'string' &&
            biz.refundMerchantOrderNo !== '' &&
            exactlyOne(biz.originMerchantOrderNo, biz.originOrderNo) &&
            typeof biz.amount === 'object' &&
            biz.amount !== null
          : operation === 'refund-query'
            ? exactlyOne(biz.refundMerchantOrderNo, biz.orderNo)
            : exactlyOne(biz.merchantOrderNo, biz.orderNo));
      if (!wellFormed) return fail('400', 'INVALID_PARAMETER');
      const requestTime = request.requestTime!;
      const skew = requestTime - Date.now();
      if (skew < -15 * 60_000) return fail('400', 'REQUESTTIME_TOO_EARLY');
      if (skew > 15 * 60_000) return fail('400', 'REQUESTTIME_TOO_LATER');

      // The order the request is about: named directly, as a refund's origin, or through a refund.
      let refund: PaybySandboxRefund | undefined;
      let order: PaybySandboxOrder | undefined;
      if (operation === 'refund-query') {
        refund = biz.orderNo
          ? [...refunds.values()].find((r) => r.orderNo === biz.orderNo)
          : refunds.get(biz.refundMerchantOrderNo ?? '');
        if (!refund)
          return biz.orderNo
            ? fail('62035', 'ORDER_NO_NOT_EXIST')
            : fail('62004', 'MERCHANT_ORDER_NO_NOT_EXIST');
        order = orders.get(refund.originMerchantOrderNo);
      } else {
        const ref =
          operation === 'refund'
            ? { merchantOrderNo: biz.originMerchantOrderNo, orderNo: biz.originOrderNo }
            : { merchantOrderNo: biz.merchantOrderNo, orderNo: biz.orderNo };
        order = find(ref);
        if (!order)
          return ref.orderNo
            ? fail('62035', 'ORDER_NO_NOT_EXIST')
            : fail('62004', 'MERCHANT_ORDER_NO_NOT_EXIST');
      }
      if (!order) return fail('500', 'SYSTEM_ERROR');
      order.calls.push(operation);
      const fault = order.faults?.[order.requests++];
      switch (fault) {
        case 'http402':
          return answer(
            { applyStatus: 'FAIL', code: '402', msg: 'RATE_LIMIT_REJECT' },
            undefined,
            undefined,
            402,
          );
        case 'http500':
          return answer({ applyStatus: 'FAIL', code: '500', msg: 'SYSTEM_ERROR' }, undefined, undefined, 500);
        case 'http504':
          return answer(
            { applyStatus: 'FAIL', code: '504', msg: 'SERVICE_TIMEOUT' },
            undefined,
            undefined,
            504,
          );
        case undefined:
          break;
        default:
          if (answerTransportFault(fault, req, res)) return;
      }
      const ours = order;
      const success = { applyStatus: 'SUCCESS', code: '0', msg: 'SUCCESS' };
      const named = ours.misaddressed ? anotherOrder(ours) : ours;
      const acquireOrder = (): JsonText => {
        const totalAmount = {
          currency: ours.currency ?? DEFAULT_CURRENCY,
          amount: ours.amount ?? DEFAULT_AMOUNT,
        };
        return {
          merchantOrderNo: named.merchantOrderNo,
          orderNo: named.orderNo,
          status: ours.status,
          ...(ours.paidTime !== undefined
            ? { paymentInfo: { paidAmount: totalAmount, paidTime: ours.paidTime, payChannel: 'BALANCE' } }
            : {}),
          product: 'Basic Payment Gateway',
          totalAmount,
          requestTime,
          revoked: String(ours.revoked),
        };
      };
      const refundAnswer = (r: PaybySandboxRefund): void => {
        const refundNames = ours.misaddressed ? anotherRefund(r) : r;
        return answer(
          success,
          {
            refundOrder: {
              refundMerchantOrderNo: refundNames.refundMerchantOrderNo,
              orderNo: refundNames.orderNo,
              originMerchantOrderNo: named.merchantOrderNo,
              originOrderNo: named.orderNo,
              status: r.status,
              amount: money(r.amountMinor, r.currency),
              reason: r.reason,
              ...(r.status === 'FAILURE' ? { failCode: '62045', failDes: 'REFUND_REJECTED' } : {}),
            },
            refundSummary: {
              acquireAmount: money(totalMinor(ours), r.currency),
              remainRefundAmount: money(refundable(ours), r.currency),
            },
          },
          ours,
        );
      };

      switch (operation) {
        case 'query':
          return answer(success, { acquireOrder: acquireOrder() }, ours);
        case 'cancel':
          switch (ours.status) {
            case 'PAID_SUCCESS':
              return fail('62001', 'ORDER_PAID', ours);
            case 'SETTLED':
              return fail('62003', 'ORDER_SETTLED', ours);
            case 'FAILURE':
              return fail('62002', 'ORDER_FAILURE', ours);
            case 'CREATED':
              ours.status = 'FAILURE';
              if (ours.loseCancelResponse) {
                ours.loseCancelResponse = false;
                return req.socket.destroy();
              }
              return answer(success, { acquireOrder: acquireOrder() }, ours);
          }
          break;
        case 'revoke':
          // Revoked or refunded already: nothing left to revoke.
          if (ours.revoked || refundsOf(ours).some((r) => r.status !== 'FAILURE'))
            return fail('62041', 'ACQUIRE_ORDER_REFUNDED', ours);
          switch (ours.status) {
            // A SETTLED order keeps its status; its reversal is a refund.
            case 'SETTLED':
              return fail('62046', 'REVOKE_REJECTED', ours);
            case 'PAID_SUCCESS':
              ours.revoked = true;
              ours.revokes += 1;
              ours.status = 'FAILURE';
              break;
            case 'CREATED':
              // No payment: the revoke cancels the order.
              ours.status = 'FAILURE';
              break;
            case 'FAILURE':
              break;
          }
          if (ours.loseRevokeResponse) {
            ours.loseRevokeResponse = false;
            return req.socket.destroy();
          }
          return answer(success, { acquireOrder: acquireOrder() }, ours);
        case 'refund': {
          const id = biz.refundMerchantOrderNo!;
          const existing = refunds.get(id);
          if (existing)
            return ours.repeatedRefund === 'same' && existing.originMerchantOrderNo === ours.merchantOrderNo
              ? refundAnswer(existing)
              : fail('62017', 'REFUND_MERCHANT_ORDER_NO_EXIST', ours);
          if (ours.revoked) return fail('62040', 'ACQUIRE_ORDER_REVOKED', ours);
          if (ours.status === 'CREATED') return fail('62015', 'ORDER_NOT_PAID', ours);
          if (ours.status === 'FAILURE') return fail('62002', 'ORDER_FAILURE', ours);
          const currency = ours.currency ?? DEFAULT_CURRENCY;
          let minor: number;
          try {
            const amount = biz.amount!.amount;
            if (biz.amount!.currency !== currency || typeof amount !== 'number') throw new AmountError('');
            minor = decimalToMinor(amount, currency);
          } catch (err) {
            if (err instanceof AmountError) return fail('400', 'INVALID_PARAMETER', ours);
            throw err;
          }
          if (minor <= 0) return fail('400', 'INVALID_PARAMETER', ours);
          if (minor > refundable(ours)) return fail('62006', 'REFUND_AMOUNT_EXCEEDED', ours);
          const placed: PaybySandboxRefund = {
            refundMerchantOrderNo: id,
            orderNo: String(nextRefundNo++),
            originMerchantOrderNo: ours.merchantOrderNo,
            originOrderNo: ours.orderNo,
            amountMinor: minor,
            currency,
            status: 'CREATED',
            queries: 0,
            ...(typeof biz.reason === 'string' ? { reason: biz.reason } : {}),
          };
          refunds.set(id, placed);
          ours.refunds += 1;
          if (ours.loseRefundResponse) {
            ours.loseRefundResponse = false;
            return req.socket.destroy();
          }
          return refundAnswer(placed);
        }
        case 'refund-query': {
          const queried = refund!;
          queried.queries += 1;
          if (queried.status === 'CREATED' && queried.queries > (ours.refundSucceedsAfterQueries ?? 0))
            queried.status = ours.refundFails ? 'FAILURE' : 'SUCCESS';
          return refundAnswer(queried);
        }
      }
    });
  });
  server.requestTimeout = 0;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    setOrder(merchantOrderNo, behaviour, orderNo) {
      register(merchantOrderNo, behaviour, orderNo);
    },
    order: (merchantOrderNo) => orders.get(merchantOrderNo),
    refund: (refundMerchantOrderNo) => refunds.get(refundMerchantOrderNo),
    setRateLimit(perSecond) {
      bucket = perSecond === undefined ? undefined : tokenBucket(perSecond);
    },
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
