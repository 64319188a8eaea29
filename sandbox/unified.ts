import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { utcStamp } from '../common/ids';
import { md5Sign, verifyMd5Sign } from '../providers/unified/sign';
import { answerTransportFault, readBody, parseParams, type SandboxFault } from './http';

/**
 * An upstream gateway that speaks seed 000 (Unified Cancel): `POST /api/pay/cancel` and
 * `POST /api/cancel/query` with JSON or form bodies, MD5 signatures verified with the app's key
 * (refused with `code` ≠ 0 and "Signature failed" the way the gateway does), `reqTime` checked
 * against a window, answers signed over `data`, a repeated cancel of the same order answered with
 * the same cancel order, and the async Cancel Notification POSTed to the `notifyUrl` it was given,
 * retried on the seed's 0/30/60/90/120/150 s schedule (multiplied by `notifyScale` for tests).
 */

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

interface OrderState extends UnifiedOrderBehaviour {
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

export interface UnifiedSandbox {
  url: string;
  setOrder(behaviour: UnifiedOrderBehaviour): string;
  order(ref: string): OrderState | undefined;
  /** Every notification attempt the gateway made, in order. */
  notifications: NotificationAttempt[];
  close(): Promise<void>;
}

export const NOTIFY_SCHEDULE_SECONDS = [0, 30, 60, 90, 120, 150] as const;

const RESULTS: Record<UnifiedResult, { state: 2 | 3 | 4; errCode: string; errMsg: string }> = {
  cancelled: { state: 2, errCode: '', errMsg: '' },
  paid: { state: 3, errCode: 'ORDER_PAID', errMsg: 'the order is already paid' },
  settled: { state: 3, errCode: 'ORDER_SETTLED', errMsg: 'the order is already settled' },
  failed: { state: 4, errCode: 'ORDER_FAILURE', errMsg: 'the order has already failed' },
  closed: { state: 4, errCode: '1002', errMsg: 'Close exception' },
};

function timestampId(prefix: string, seq: number, at = new Date()): string {
  return `${prefix}${utcStamp(at)}${String(seq % 10_000).padStart(4, '0')}`;
}

export async function startUnifiedSandbox(options: UnifiedSandboxOptions): Promise<UnifiedSandbox> {
  const orders = new Map<string, OrderState>();
  const byCancelId = new Map<string, OrderState>();
  const notifications: NotificationAttempt[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const window = options.reqTimeWindowMs ?? 10 * 60_000;
  const scale = options.notifyScale ?? 1;
  let seq = 0;
  let closed = false;

  const register = (behaviour: UnifiedOrderBehaviour): OrderState => {
    const payOrderId = behaviour.payOrderId ?? timestampId('P', ++seq);
    const state: OrderState = {
      ...behaviour,
      payOrderId,
      ...(behaviour.misaddressed
        ? { elsewhere: { payOrderId: timestampId('P', ++seq), cancelOrderId: timestampId('C', ++seq) } }
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

  const later = (ms: number, fn: () => void) => {
    if (closed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const notificationParams = (order: OrderState, cancel: UnifiedCancelOrder): Record<string, string> => {
    const params: Record<string, string> = {
      cancelOrderId: cancel.cancelOrderId,
      payOrderId: order.payOrderId,
      mchNo: options.mchNo,
      appId: options.appId,
      payAmount: String(order.amountMinor ?? 100),
      currency: order.currency ?? 'HKD',
      state: String(cancel.state),
      channelOrderNo: cancel.channelOrderNo,
      errCode: cancel.errCode,
      errMsg: cancel.errMsg,
      extraParam: cancel.extParam,
      createdAt: String(cancel.createdAt),
      successTime: cancel.successTime ? String(cancel.successTime) : '',
      reqTime: String(Date.now()),
    };
    params.sign = md5Sign(params, order.badSignature ? `${options.key}-wrong` : options.key);
    return params;
  };

  /** The seed's schedule: the same signed parameters, up to 6 attempts, until one answers `success`. */
  const notify = (order: OrderState, cancel: UnifiedCancelOrder) => {
    if (!cancel.notifyUrl || order.silent) return;
    const url = cancel.notifyUrl;
    const params = notificationParams(order, cancel);
    const attempt = (n: number) => {
      const record: NotificationAttempt = {
        cancelOrderId: cancel.cancelOrderId,
        url,
        attempt: n + 1,
        at: Date.now(),
        params,
      };
      notifications.push(record);
      void fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(5_000),
        redirect: 'manual',
      })
        .then(async (res) => {
          record.status = res.status;
          record.answer = await res.text();
          return /^success$/i.test(record.answer);
        })
        .catch((err: Error) => {
          record.error = err.message;
          return false;
        })
        .then((ok) => {
          const delay = NOTIFY_SCHEDULE_SECONDS[n + 1];
          if (!ok && delay !== undefined) later(delay * 1000 * scale, () => attempt(n + 1));
        });
    };
    later(NOTIFY_SCHEDULE_SECONDS[0] * 1000 * scale, () => attempt(0));
  };

  const finish = (order: OrderState, cancel: UnifiedCancelOrder) => {
    if (cancel.state >= 2) return;
    const result = RESULTS[order.result ?? 'cancelled'];
    cancel.state = result.state;
    cancel.errCode = result.errCode;
    cancel.errMsg = result.errMsg;
    if (result.state === 2) {
      cancel.successTime = Date.now();
      cancel.channelOrderNo = timestampId('20', seq++);
    }
    notify(order, cancel);
  };

  const server = http.createServer((req, res) => {
    void readBody(req).then((raw) => {
      const reply = (code: number, msg: string, data?: Record<string, unknown>, order?: OrderState) => {
        const body: Record<string, unknown> = { code, msg };
        if (data) {
          body.data = data;
          body.sign = md5Sign(data, order?.badSignature ? `${options.key}-wrong` : options.key);
        }
        res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
        res.end(order?.malformedJson ? JSON.stringify(body).slice(0, 25) : JSON.stringify(body));
      };
      const operation =
        req.url === '/api/pay/cancel' ? 'cancel' : req.url === '/api/cancel/query' ? 'query' : undefined;
      if (req.method !== 'POST' || !operation) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('Not Found');
      }
      const params = parseParams(raw, req.headers['content-type']);
      if (!params) return reply(9999, 'parameter format verification error: body is neither JSON nor a form');
      for (const field of ['mchNo', 'appId', 'reqTime', 'version', 'sign', 'signType'])
        if (!params[field]) return reply(9999, `parameter format verification error: ${field} is required`);
      if (params.mchNo !== options.mchNo || params.appId !== options.appId)
        return reply(9999, 'merchant app does not exist');
      if (params.signType !== 'MD5') return reply(9999, 'signType only supports MD5');
      if (!verifyMd5Sign(params, params.sign, options.key)) return reply(9999, 'Signature failed');
      if (params.version !== '1.0') return reply(9999, 'version must be 1.0');
      const reqTime = Number(params.reqTime);
      if (!/^\d{13}$/.test(params.reqTime!) || Math.abs(reqTime - Date.now()) > window)
        return reply(9999, 'reqTime expired: request time is outside the allowed window');

      let order: OrderState | undefined;
      if (operation === 'cancel') {
        if (!params.payOrderId && !params.mchOrderNo)
          return reply(9999, 'parameter format verification error: payOrderId or mchOrderNo is required');
        order = find({ payOrderId: params.payOrderId, mchOrderNo: params.mchOrderNo });
        if (!order) return reply(9999, 'order does not exist');
      } else {
        if (!params.cancelOrderId)
          return reply(9999, 'parameter format verification error: cancelOrderId is required');
        order = byCancelId.get(params.cancelOrderId);
        if (!order) return reply(9999, 'cancel order does not exist');
      }
      order.calls.push(operation);
      const fault = order.faults?.[order.requests++];
      switch (fault) {
        case 'http402':
        case 'http500':
        case 'http504': {
          const status = Number(fault.slice(4));
          res.writeHead(status, { 'content-type': 'text/plain' });
          return res.end(status === 402 ? 'Payment Required' : 'gateway error');
        }
        case undefined:
          break;
        default:
          if (answerTransportFault(fault, req, res)) return;
      }

      if (operation === 'cancel' && order.cancel && order.repeatRefusal)
        return reply(9999, order.repeatRefusal);
      if (operation === 'cancel' && !order.cancel) {
        const cancel: UnifiedCancelOrder = {
          cancelOrderId: timestampId('C', ++seq),
          state: 1,
          createdAt: Date.now(),
          errCode: '',
          errMsg: '',
          channelOrderNo: '',
          ...(params.notifyUrl ? { notifyUrl: params.notifyUrl } : {}),
          extParam: params.extParam ?? '',
          queries: 0,
        };
        order.cancel = cancel;
        byCancelId.set(cancel.cancelOrderId, order);
        // The id a misaddressed answer gave out can be queried too, and answers about the other order.
        if (order.elsewhere) byCancelId.set(order.elsewhere.cancelOrderId, order);
        const captured = order;
        if (order.settleAfterMs !== undefined) later(order.settleAfterMs, () => finish(captured, cancel));
        else if (!order.pendingQueries) finish(order, cancel);
        if (order.loseCancelResponse) {
          order.loseCancelResponse = false;
          return req.socket.destroy();
        }
      }
      const cancel = order.cancel!;
      const named = order.elsewhere ?? { payOrderId: order.payOrderId, cancelOrderId: cancel.cancelOrderId };
      if (operation === 'query') {
        cancel.queries++;
        if (order.pendingQueries !== undefined && cancel.queries > order.pendingQueries)
          finish(order, cancel);
        return reply(
          0,
          'SUCCESS',
          {
            cancelOrderId: named.cancelOrderId,
            payOrderId: named.payOrderId,
            mchNo: options.mchNo,
            appId: options.appId,
            payAmount: order.amountMinor ?? 100,
            currency: order.currency ?? 'HKD',
            state: cancel.state,
            channelOrderNo: cancel.channelOrderNo,
            errCode: cancel.errCode,
            errMsg: cancel.errMsg,
            extraParam: cancel.extParam,
            ...(cancel.successTime ? { successTime: cancel.successTime } : {}),
            createdAt: cancel.createdAt,
          },
          order,
        );
      }
      return reply(
        0,
        'SUCCESS',
        {
          cancelOrderId: named.cancelOrderId,
          state: cancel.state,
          channelOrderNo: cancel.channelOrderNo,
          errCode: cancel.errCode,
          errMsg: cancel.errMsg,
        },
        order,
      );
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
        closed = true;
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
