import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody, tokenBucket } from './http';
import { answerPaybyRequest } from './payby-request';
import {
  createPaybyStore,
  type PaybyOrderBehaviour,
  type PaybySandboxOptions,
  type PaybySandboxOrder,
  type PaybySandboxRefund,
} from './payby-state';

/**
 * A PayBy simulator that speaks seed 002: `POST /acquire2/cancelOrder` and `/acquire2/getOrder`,
 * and for paid orders (PROVIDERS.md, "PayBy revoke and refund") `/acquire2/revokeOrder`,
 * `/acquire2/refund/placeOrder` and `/acquire2/refund/getOrder`. It verifies the merchant's RSA
 * signature (applyStatus ERROR when it fails), refuses a requestTime more than 15 minutes away,
 * keeps order and refund state, counts the money it moves, and signs every answer with its own key.
 * Each order's behaviour (faults included) is chosen by the test.
 */

export type {
  PaybyFault,
  PaybyOrderBehaviour,
  PaybyOrderStatus,
  PaybyRefundStatus,
  PaybySandboxCall,
  PaybySandboxOptions,
  PaybySandboxOrder,
  PaybySandboxRefund,
} from './payby-state';

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

export async function startPaybySandbox(options: PaybySandboxOptions): Promise<PaybySandbox> {
  const store = createPaybyStore(options);
  const { orders, refunds, register } = store;

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
      answerPaybyRequest(options, store, req, res, raw);
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
