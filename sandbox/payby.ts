import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { rsaSign, rsaVerify } from '../providers/payby/sign';
import { answerTransportFault, readBody, tokenBucket, type SandboxFault } from './http';

/**
 * A PayBy simulator that speaks seed 002: `POST /acquire2/cancelOrder` and `/acquire2/getOrder`,
 * verifies the merchant's RSA signature (applyStatus ERROR when it fails), refuses a requestTime
 * more than 15 minutes away, keeps order state, and signs every answer with its own key.
 * Each order's behaviour (faults included) is chosen by the test.
 */

export type PaybyOrderStatus = 'CREATED' | 'PAID_SUCCESS' | 'SETTLED' | 'FAILURE';
export type PaybyFault = SandboxFault;

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
  /** Correctly signed answers whose acquireOrder names another order (merchantOrderNo and orderNo). */
  misaddressed?: boolean;
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

interface OrderState extends PaybyOrderBehaviour {
  merchantOrderNo: string;
  orderNo: string;
  requests: number;
}

export interface PaybySandbox {
  url: string;
  setOrder(merchantOrderNo: string, behaviour: PaybyOrderBehaviour, orderNo?: string): void;
  order(merchantOrderNo: string): (OrderState & { calls: Array<'cancel' | 'query'> }) | undefined;
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

export async function startPaybySandbox(options: PaybySandboxOptions): Promise<PaybySandbox> {
  const orders = new Map<string, OrderState & { calls: Array<'cancel' | 'query'> }>();
  let nextOrderNo = 131422372621000000n;

  const register = (merchantOrderNo: string, behaviour: PaybyOrderBehaviour, orderNo?: string) => {
    const state = {
      ...behaviour,
      merchantOrderNo,
      orderNo: orderNo ?? String(nextOrderNo++),
      requests: 0,
      calls: [] as Array<'cancel' | 'query'>,
    };
    orders.set(merchantOrderNo, state);
    return state;
  };
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
        body?: unknown,
        order?: OrderState,
        status = 200,
      ): void => {
        const text = order?.malformedJson
          ? '{"head":{"applyStatus":"SUCCESS","code":"0"'
          : JSON.stringify(body ? { head, body } : { head });
        const key = order?.badSignature ? options.wrongPrivateKey : options.providerPrivateKey;
        res.writeHead(status, { 'content-type': 'application/json', sign: rsaSign(text, key) });
        res.end(text);
      };
      const operation =
        req.url === '/acquire2/cancelOrder'
          ? 'cancel'
          : req.url === '/acquire2/getOrder'
            ? 'query'
            : undefined;
      if (req.method !== 'POST' || !operation)
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
      let request: { requestTime?: number; bizContent?: { merchantOrderNo?: string; orderNo?: string } };
      try {
        request = JSON.parse(raw) as typeof request;
      } catch {
        return answer({ applyStatus: 'FAIL', code: '400', msg: 'INVALID_PARAMETER' });
      }
      const biz = request.bizContent ?? {};
      if (
        typeof request.requestTime !== 'number' ||
        (biz.merchantOrderNo && biz.orderNo) ||
        (!biz.merchantOrderNo && !biz.orderNo)
      ) {
        return answer({ applyStatus: 'FAIL', code: '400', msg: 'INVALID_PARAMETER' });
      }
      const skew = request.requestTime - Date.now();
      if (skew < -15 * 60_000)
        return answer({ applyStatus: 'FAIL', code: '400', msg: 'REQUESTTIME_TOO_EARLY' });
      if (skew > 15 * 60_000)
        return answer({ applyStatus: 'FAIL', code: '400', msg: 'REQUESTTIME_TOO_LATER' });

      const order = find(biz);
      if (!order) {
        return biz.orderNo
          ? answer({ applyStatus: 'FAIL', code: '62035', msg: 'ORDER_NO_NOT_EXIST' })
          : answer({ applyStatus: 'FAIL', code: '62004', msg: 'MERCHANT_ORDER_NO_NOT_EXIST' });
      }
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
      const named = order.misaddressed ? anotherOrder(order) : order;
      const acquireOrder = () => ({
        merchantOrderNo: named.merchantOrderNo,
        orderNo: named.orderNo,
        status: order.status,
        product: 'Basic Payment Gateway',
        totalAmount: { currency: order.currency ?? 'AED', amount: order.amount ?? 21.74 },
        requestTime: request.requestTime,
        revoked: 'false',
      });
      if (operation === 'query')
        return answer(
          { applyStatus: 'SUCCESS', code: '0', msg: 'SUCCESS' },
          { acquireOrder: acquireOrder() },
          order,
        );
      switch (order.status) {
        case 'PAID_SUCCESS':
          return answer({ applyStatus: 'FAIL', code: '62001', msg: 'ORDER_PAID' }, undefined, order);
        case 'SETTLED':
          return answer({ applyStatus: 'FAIL', code: '62003', msg: 'ORDER_SETTLED' }, undefined, order);
        case 'FAILURE':
          return answer({ applyStatus: 'FAIL', code: '62002', msg: 'ORDER_FAILURE' }, undefined, order);
        case 'CREATED':
          order.status = 'FAILURE';
          if (order.loseCancelResponse) {
            order.loseCancelResponse = false;
            return req.socket.destroy();
          }
          return answer(
            { applyStatus: 'SUCCESS', code: '0', msg: 'SUCCESS' },
            { acquireOrder: acquireOrder() },
            order,
          );
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
