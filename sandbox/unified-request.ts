/** The Unified sandbox's routes: cancel and query checked, signed and answered the way the gateway does. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { md5Sign, verifyMd5Sign } from '../providers/unified/sign';
import { answerTransportFault, parseParams } from './http';
import type { UnifiedNotifier } from './unified-notify';
import {
  timestampId,
  type OrderState,
  type UnifiedCancelOrder,
  type UnifiedSandboxOptions,
  type UnifiedStore,
} from './unified-state';

/** What a Unified sandbox answers with: its options, its state, and its notifier. */
export interface UnifiedGateway {
  options: UnifiedSandboxOptions;
  /** Refuse a reqTime further than this many ms from our clock. */
  window: number;
  store: UnifiedStore;
  notifier: UnifiedNotifier;
}

/** Answers one request (its body read in full as `raw`) the way the gateway does. */
export function answerUnifiedRequest(
  gateway: UnifiedGateway,
  req: IncomingMessage,
  res: ServerResponse,
  raw: string,
) {
  const { options, window, store, notifier } = gateway;
  const { find, byCancelId } = store;
  const { later, finish } = notifier;
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

  const replayed = operation === 'cancel' ? order.replayCancelAnswerOf : undefined;
  const other = replayed ? byCancelId.get(replayed) : undefined;
  if (other?.cancel) {
    const { cancelOrderId, state, channelOrderNo, errCode, errMsg } = other.cancel;
    return reply(0, 'SUCCESS', { cancelOrderId, state, channelOrderNo, errCode, errMsg }, other);
  }
  if (operation === 'cancel' && order.cancel && order.repeatRefusal) return reply(9999, order.repeatRefusal);
  if (operation === 'cancel' && !order.cancel) {
    const cancel: UnifiedCancelOrder = {
      cancelOrderId: timestampId('C', ++store.seq),
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
    if (order.pendingQueries !== undefined && cancel.queries > order.pendingQueries) finish(order, cancel);
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
}
