import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './http';
import { createUnifiedNotifier } from './unified-notify';
import { answerUnifiedRequest } from './unified-request';
import {
  createUnifiedStore,
  type NotificationAttempt,
  type OrderState,
  type UnifiedOrderBehaviour,
  type UnifiedSandboxOptions,
} from './unified-state';

/**
 * An upstream gateway that speaks seed 000 (Unified Cancel): `POST /api/pay/cancel` and
 * `POST /api/cancel/query` with JSON or form bodies, MD5 signatures verified with the app's key
 * (refused with `code` ≠ 0 and "Signature failed" the way the gateway does), `reqTime` checked
 * against a window, answers signed over `data`, a repeated cancel of the same order answered with
 * the same cancel order, and the async Cancel Notification POSTed to the `notifyUrl` it was given,
 * retried on the seed's 0/30/60/90/120/150 s schedule (multiplied by `notifyScale` for tests).
 */

export { NOTIFY_SCHEDULE_SECONDS } from './unified-notify';
export type {
  NotificationAttempt,
  UnifiedCancelOrder,
  UnifiedOrderBehaviour,
  UnifiedResult,
  UnifiedSandboxOptions,
} from './unified-state';

export interface UnifiedSandbox {
  url: string;
  setOrder(behaviour: UnifiedOrderBehaviour): string;
  order(ref: string): OrderState | undefined;
  /** Every notification attempt the gateway made, in order. */
  notifications: NotificationAttempt[];
  close(): Promise<void>;
}

export async function startUnifiedSandbox(options: UnifiedSandboxOptions): Promise<UnifiedSandbox> {
  const store = createUnifiedStore(options);
  const { orders, register } = store;
  const window = options.reqTimeWindowMs ?? 10 * 60_000;
  const notifier = createUnifiedNotifier(options, store);
  const { notifications } = notifier;

  const server = http.createServer((req, res) => {
    void readBody(req).then((raw) => {
      answerUnifiedRequest({ options, window, store, notifier }, req, res, raw);
    });
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    setOrder: (behaviour) => register(behaviour).payOrderId,
    order: (ref) => orders.get(`pay:${ref}`) ?? orders.get(`mch:${ref}`),
    notifications,
    close: () =>
      new Promise<void>((resolve) => {
        notifier.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
