import type { KeyObject } from 'node:crypto';
import type { PaybyAccount } from './options';
import { exchangeRecord, headerValue, postRaw, type HttpAnswer, type HttpTimeouts } from '../http';
import type {
  OrderRef,
  ProviderAdapter,
  ProviderOperation,
  ProviderResult,
  SendHooks,
  SignatureVerdict,
} from '../types';
import { bizContentFor } from './biz-content';
import { classifyPaybyAnswer } from './classify';
import { privateKeyFrom, publicKeyFrom, rsaSign, rsaVerify } from './sign';

export interface PaybyRequest {
  body: string;
  headers: Record<string, string>;
}

/** PayBy's headers for a serialised body: the signature covers exactly these bytes. */
export function signedPaybyRequest(partnerId: string, privateKey: KeyObject, body: string): PaybyRequest {
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-language': 'en',
      'partner-id': partnerId,
      sign: rsaSign(body, privateKey),
    },
  };
}

/** Serialises the body once and signs exactly those bytes; a fresh requestTime on every call. */
export function buildPaybyRequest(
  partnerId: string,
  privateKey: KeyObject,
  order: OrderRef,
  now: number = Date.now(),
): PaybyRequest {
  return signedPaybyRequest(
    partnerId,
    privateKey,
    JSON.stringify({ requestTime: now, bizContent: bizContentFor(order) }),
  );
}

/** The verdict on an answer's `sign` header over its raw body text, before anything is parsed. */
export function answerSignature(answer: HttpAnswer, publicKey: KeyObject): SignatureVerdict {
  if (!answer.ok) return 'not-checked';
  const sign = headerValue(answer.headers, 'sign');
  return sign === undefined ? 'missing' : rsaVerify(answer.body, sign, publicKey) ? 'valid' : 'invalid';
}

export function createPaybyAdapter(account: PaybyAccount, timeouts?: HttpTimeouts): ProviderAdapter {
  const base = account.baseUrl.replace(/\/+$/, '');
  const privateKey = privateKeyFrom(account.privateKey.reveal());
  const publicKey = publicKeyFrom(account.providerPublicKey.reveal());

  async function exchange(
    operation: ProviderOperation,
    path: string,
    order: OrderRef,
    hooks: SendHooks = {},
  ): Promise<ProviderResult> {
    const url = `${base}${path}`;
    const request = buildPaybyRequest(account.partnerId, privateKey, order);
    const sent = { headers: request.headers, body: JSON.parse(request.body) as unknown };
    await hooks.beforeSend?.({ operation, url, request: sent });
    const answer = await postRaw(url, request.headers, request.body, timeouts);
    const receivedAt = Date.now();
    const signature = answerSignature(answer, publicKey);
    const outcome = classifyPaybyAnswer(operation, answer, signature, { order, receivedAt });
    return {
      outcome,
      exchange: exchangeRecord(operation, url, sent, answer, signature, outcome),
    };
  }

  return {
    provider: 'payby',
    submitCancel: (request, hooks) => exchange('cancel', '/acquire2/cancelOrder', request.order, hooks),
    queryCancel: (request, hooks) => exchange('query', '/acquire2/getOrder', request.order, hooks),
  };
}
