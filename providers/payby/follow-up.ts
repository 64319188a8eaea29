import type { KeyObject } from 'node:crypto';
import type { PaybyAccount } from './options';
import { excerpt, exchangeRecord, postRaw, type HttpAnswer, type HttpTimeouts } from '../http';
import type {
  FollowUpAdapter,
  FollowUpExchangeRecord,
  FollowUpOperation,
  FollowUpOutcome,
  FollowUpResult,
  PlaceRefundRequest,
  SendHooks,
  SignatureVerdict,
} from '../types';
import { answerSignature, buildPaybyRequest, signedPaybyRequest, type PaybyRequest } from './adapter';
import { paybyMoney } from './amount';
import { askedBizContent } from './biz-content';
import { classifyOrderQuery, classifyRefundAnswer, classifyRevokeAnswer } from './follow-up-classify';
import { toJsonText } from './json-text';
import { privateKeyFrom, publicKeyFrom } from './sign';

/**
 * PayBy's follow-ups for a paid order: revokeOrder, refund/placeOrder and refund/getOrder, with the
 * cancel's envelope, headers and RSA signing, and getOrder with the payment facts they need.
 *
 * Revoke and refund move money, so nothing here ever sends one twice: there are no retries in this
 * adapter (postRaw makes none either). After an `unknown` (or `pending`) the caller asks before
 * sending again: `queryOrder` for a revoke (its `revoke` is `done` or `resubmit`), `queryRefund` by
 * our refund id for a refund (`resubmit` only when PayBy has no refund with that id), and a refund
 * is only ever resent with the same `refundMerchantOrderNo`.
 */

/** The refund/placeOrder body: the refund id, the paid order (one number), the exact amount. */
export function buildPaybyRefundRequest(
  partnerId: string,
  privateKey: KeyObject,
  request: PlaceRefundRequest,
  now: number = Date.now(),
): PaybyRequest {
  if (!request.refundMerchantOrderNo) throw new Error('a refund id (refundMerchantOrderNo) is required');
  const origin = askedBizContent(request.order);
  if (!origin) throw new Error('the paid order (payOrderId or mchOrderNo) is required');
  const body = toJsonText({
    requestTime: now,
    bizContent: {
      refundMerchantOrderNo: request.refundMerchantOrderNo,
      // Never both numbers, as for cancel: PayBy's own when we know it.
      ...('orderNo' in origin
        ? { originOrderNo: origin.orderNo }
        : { originMerchantOrderNo: origin.merchantOrderNo }),
      amount: paybyMoney(request.amount),
      reason: request.reason,
      notifyUrl: request.notifyUrl,
    },
  });
  return signedPaybyRequest(partnerId, privateKey, body);
}

/** The refund/getOrder body: our refund id. */
export function buildPaybyRefundQuery(
  partnerId: string,
  privateKey: KeyObject,
  refundMerchantOrderNo: string,
  now: number = Date.now(),
): PaybyRequest {
  if (!refundMerchantOrderNo) throw new Error('a refund id (refundMerchantOrderNo) is required');
  return signedPaybyRequest(
    partnerId,
    privateKey,
    JSON.stringify({ requestTime: now, bizContent: { refundMerchantOrderNo } }),
  );
}

/** The `provider_calls` record of a follow-up exchange (the cancel's record, other operations). */
export function followUpExchangeRecord(
  operation: FollowUpOperation,
  url: string,
  request: PaybyRequest,
  answer: HttpAnswer,
  signature: SignatureVerdict,
  outcome: FollowUpOutcome,
): FollowUpExchangeRecord {
  return {
    operation,
    url,
    request: { headers: request.headers, body: JSON.parse(request.body) as unknown },
    signature,
    outcome,
    latencyMs: answer.latencyMs,
    ...(answer.ok
      ? { httpStatus: answer.status, responseBody: excerpt(answer.body) }
      : { error: answer.error }),
  };
}

export function createPaybyFollowUpAdapter(account: PaybyAccount, timeouts?: HttpTimeouts): FollowUpAdapter {
  const base = account.baseUrl.replace(/\/+$/, '');
  const privateKey = privateKeyFrom(account.privateKey.reveal());
  const publicKey = publicKeyFrom(account.providerPublicKey.reveal());

  /** One POST, its verdict and the time it was heard: one attempt, never repeated here. */
  async function send(
    operation: FollowUpOperation | 'query',
    path: string,
    request: PaybyRequest,
    hooks: SendHooks = {},
  ) {
    const url = `${base}${path}`;
    await hooks.beforeSend?.({
      operation,
      url,
      request: { headers: request.headers, body: JSON.parse(request.body) as unknown },
    });
    const answer = await postRaw(url, request.headers, request.body, timeouts);
    return { url, answer, receivedAt: Date.now(), signature: answerSignature(answer, publicKey) };
  }

  return {
    provider: 'payby',

    async queryOrder(order, hooks) {
      const request = buildPaybyRequest(account.partnerId, privateKey, order);
      const { url, answer, receivedAt, signature } = await send(
        'query',
        '/acquire2/getOrder',
        request,
        hooks,
      );
      const { outcome, payment, revoke } = classifyOrderQuery(answer, signature, { order, receivedAt });
      return {
        outcome,
        ...(payment ? { payment } : {}),
        revoke,
        exchange: exchangeRecord(
          'query',
          url,
          { headers: request.headers, body: JSON.parse(request.body) as unknown },
          answer,
          signature,
          outcome,
        ),
      };
    },

    async revokeOrder(order, hooks): Promise<FollowUpResult> {
      // The same body as cancel: the order by one number, a fresh requestTime.
      const request = buildPaybyRequest(account.partnerId, privateKey, order);
      const { url, answer, receivedAt, signature } = await send(
        'revoke',
        '/acquire2/revokeOrder',
        request,
        hooks,
      );
      const outcome = classifyRevokeAnswer(answer, signature, { order, receivedAt });
      return {
        outcome,
        exchange: followUpExchangeRecord('revoke', url, request, answer, signature, outcome),
      };
    },

    async placeRefund(refund, hooks): Promise<FollowUpResult> {
      const request = buildPaybyRefundRequest(account.partnerId, privateKey, refund);
      const { url, answer, receivedAt, signature } = await send(
        'refund',
        '/acquire2/refund/placeOrder',
        request,
        hooks,
      );
      const outcome = classifyRefundAnswer('refund', answer, signature, {
        refundMerchantOrderNo: refund.refundMerchantOrderNo,
        order: refund.order,
        amount: refund.amount,
        receivedAt,
      });
      return {
        outcome,
        exchange: followUpExchangeRecord('refund', url, request, answer, signature, outcome),
      };
    },

    async queryRefund(query, hooks): Promise<FollowUpResult> {
      const request = buildPaybyRefundQuery(account.partnerId, privateKey, query.refundMerchantOrderNo);
      const { url, answer, receivedAt, signature } = await send(
        'refund-query',
        '/acquire2/refund/getOrder',
        request,
        hooks,
      );
      const outcome = classifyRefundAnswer('refund-query', answer, signature, {
        refundMerchantOrderNo: query.refundMerchantOrderNo,
        ...(query.order ? { order: query.order } : {}),
        ...(query.amount ? { amount: query.amount } : {}),
        receivedAt,
      });
      return {
        outcome,
        exchange: followUpExchangeRecord('refund-query', url, request, answer, signature, outcome),
      };
    },
  };
}
