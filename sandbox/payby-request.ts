/** The PayBy sandbox's route: path, signature, fields and time checked, order found, faults answered. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJsonText, type JsonText } from '../providers/payby/json-text';
import { rsaSign, rsaVerify } from '../providers/payby/sign';
import { answerTransportFault } from './http';
import { answerPaybyOperation, type PaybyRequestBody } from './payby-operations';
import type {
  PaybySandboxCall,
  PaybySandboxOptions,
  PaybySandboxOrder,
  PaybySandboxRefund,
  PaybyStore,
} from './payby-state';

const PATHS: Record<string, PaybySandboxCall> = {
  '/acquire2/cancelOrder': 'cancel',
  '/acquire2/getOrder': 'query',
  '/acquire2/revokeOrder': 'revoke',
  '/acquire2/refund/placeOrder': 'refund',
  '/acquire2/refund/getOrder': 'refund-query',
};

/** Exactly one of two ids: PayBy refuses both or neither. */
const exactlyOne = (a: unknown, b: unknown): boolean =>
  (typeof a === 'string' && a !== '') !== (typeof b === 'string' && b !== '');

/** Answers one PayBy request (its body read in full as `raw`) about the orders in `store`. */
export function answerPaybyRequest(
  options: PaybySandboxOptions,
  store: PaybyStore,
  req: IncomingMessage,
  res: ServerResponse,
  raw: string,
) {
  const { orders, refunds, find } = store;
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
      return biz.orderNo ? fail('62035', 'ORDER_NO_NOT_EXIST') : fail('62004', 'MERCHANT_ORDER_NO_NOT_EXIST');
    order = orders.get(refund.originMerchantOrderNo);
  } else {
    const ref =
      operation === 'refund'
        ? { merchantOrderNo: biz.originMerchantOrderNo, orderNo: biz.originOrderNo }
        : { merchantOrderNo: biz.merchantOrderNo, orderNo: biz.orderNo };
    order = find(ref);
    if (!order)
      return ref.orderNo ? fail('62035', 'ORDER_NO_NOT_EXIST') : fail('62004', 'MERCHANT_ORDER_NO_NOT_EXIST');
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
      return answer({ applyStatus: 'FAIL', code: '504', msg: 'SERVICE_TIMEOUT' }, undefined, undefined, 504);
    case undefined:
      break;
    default:
      if (answerTransportFault(fault, req, res)) return;
  }
  return answerPaybyOperation({ store, req, answer, fail, operation, biz, requestTime, ours: order, refund });
}
