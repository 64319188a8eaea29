/** The Unified sandbox's later side: a cancel's result when it comes, and its Cancel Notification. */
import { md5Sign } from '../providers/unified/sign';
import {
  timestampId,
  type NotificationAttempt,
  type OrderState,
  type UnifiedCancelOrder,
  type UnifiedResult,
  type UnifiedSandboxOptions,
  type UnifiedStore,
} from './unified-state';

export const NOTIFY_SCHEDULE_SECONDS = [0, 30, 60, 90, 120, 150] as const;

const RESULTS: Record<UnifiedResult, { state: 2 | 3 | 4; errCode: string; errMsg: string }> = {
  cancelled: { state: 2, errCode: '', errMsg: '' },
  paid: { state: 3, errCode: 'ORDER_PAID', errMsg: 'the order is already paid' },
  settled: { state: 3, errCode: 'ORDER_SETTLED', errMsg: 'the order is already settled' },
  failed: { state: 4, errCode: 'ORDER_FAILURE', errMsg: 'the order has already failed' },
  closed: { state: 4, errCode: '1002', errMsg: 'Close exception' },
};

/** Settles cancels (now or after a delay) and notifies them; `stop` cancels everything scheduled. */
export function createUnifiedNotifier(options: UnifiedSandboxOptions, store: UnifiedStore) {
  const notifications: NotificationAttempt[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const scale = options.notifyScale ?? 1;
  let closed = false;

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
      cancel.channelOrderNo = timestampId('20', store.seq++);
    }
    notify(order, cancel);
  };
  return {
    notifications,
    later,
    finish,
    /** Schedules nothing more, and clears the timers already set. */
    stop() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

export type UnifiedNotifier = ReturnType<typeof createUnifiedNotifier>;
