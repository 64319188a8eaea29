import type { UnifiedAccount } from './options';
import { exchangeRecord, postRaw, type HttpTimeouts } from '../http';
import type {
  ProviderAdapter,
  ProviderOperation,
  ProviderResult,
  QueryCancelRequest,
  SendHooks,
  SubmitCancelRequest,
} from '../types';
import { classifyUnifiedAnswer, type UnifiedAnswerContext } from './classify';
import { signEnvelope } from './sign';

/** Builds a signed seed-000 request: a fresh `reqTime` and signature on every attempt. */
export function buildUnifiedRequest(
  account: Pick<UnifiedAccount, 'mchNo' | 'appId'>,
  key: string,
  fields: Record<string, string | undefined>,
  now: number = Date.now(),
): Record<string, string> {
  const present = Object.entries(fields).filter(([, value]) => value !== undefined && value !== '');
  // Every value is a string: the given fields and the envelope's own.
  return signEnvelope(account, key, Object.fromEntries(present), now) as Record<string, string>;
}

export function createUnifiedAdapter(account: UnifiedAccount, timeouts?: HttpTimeouts): ProviderAdapter {
  const base = account.baseUrl.replace(/\/+$/, '');

  async function exchange(
    operation: ProviderOperation,
    path: string,
    params: Record<string, string>,
    asked: UnifiedAnswerContext,
    hooks: SendHooks = {},
  ): Promise<ProviderResult> {
    const url = `${base}${path}`;
    const body = JSON.stringify(params);
    const headers = { 'content-type': 'application/json' };
    await hooks.beforeSend?.({ operation, url, request: { headers, body: params } });
    const answer = await postRaw(url, headers, body, timeouts);
    const { outcome, signature } = classifyUnifiedAnswer(operation, answer, account.key.reveal(), asked);
    return {
      outcome,
      exchange: exchangeRecord(operation, url, { headers, body: params }, answer, signature, outcome),
    };
  }

  return {
    provider: 'unified',
    submitCancel(request: SubmitCancelRequest, hooks?: SendHooks) {
      const params = buildUnifiedRequest(account, account.key.reveal(), {
        payOrderId: request.order.payOrderId,
        mchOrderNo: request.order.mchOrderNo,
        notifyUrl: request.notifyUrl,
        clientIp: request.clientIp,
        channelExtra: request.channelExtra,
        extParam: request.extParam,
      });
      return exchange(
        'cancel',
        '/api/pay/cancel',
        params,
        {
          order: request.order,
          ...(request.providerCancelId ? { providerCancelId: request.providerCancelId } : {}),
        },
        hooks,
      );
    },
    async queryCancel(request: QueryCancelRequest, hooks?: SendHooks) {
      // Seed 000's query needs the gateway's cancelOrderId. Without it (the cancel's answer was
      // lost) the cancel is sent again: gateways answer a repeated cancel of the same order with
      // the existing cancel order. Not authoritative: the first cancel may have landed, and some
      // gateways refuse a repeat instead.
      if (!request.providerCancelId) {
        return {
          outcome: { kind: 'resubmit', authoritative: false, reason: 'no upstream cancelOrderId to query' },
        };
      }
      const params = buildUnifiedRequest(account, account.key.reveal(), {
        cancelOrderId: request.providerCancelId,
      });
      return exchange(
        'query',
        '/api/cancel/query',
        params,
        { order: request.order, providerCancelId: request.providerCancelId },
        hooks,
      );
    },
  };
}
