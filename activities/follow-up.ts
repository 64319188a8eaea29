import type { PaybyAccount } from '../common/config';
import { accountTimeouts } from '../providers/options';
import { createPaybyFollowUpAdapter } from '../providers/payby/follow-up';
import type {
  ExchangeRecord,
  FollowUpAdapter,
  FollowUpExchangeRecord,
  FollowUpOutcome,
  OrderPaymentFacts,
  OrderRef,
} from '../providers/types';
import type { Money } from '../common/money';
import { auditExchange, writeAhead } from './adapters';
import type { ActivityDeps } from './deps';

export interface FollowUpCallInput {
  cancelOrderId: string;
  accountId: string;
  order: OrderRef;
}

/**
 * Activities of a paid order's follow-up (PayBy revoke or refund). Every exchange is a
 * `provider_calls` row; none is ever resent here: after an unknown outcome the workflow asks
 * (getOrder for a revoke, refund/getOrder by our refund id) before sending again.
 */
export function createFollowUpActivities({ db, config, logger }: ActivityDeps) {
  const adapters = new Map<string, { account: PaybyAccount; adapter: FollowUpAdapter }>();
  const adapterFor = (accountId: string) => {
    let entry = adapters.get(accountId);
    if (!entry) {
      const account = config.accounts.find((a) => a.id === accountId);
      if (!account || account.provider !== 'payby') return undefined;
      entry = {
        account,
        adapter: createPaybyFollowUpAdapter(account, accountTimeouts(account)),
      };
      adapters.set(accountId, entry);
    }
    return entry;
  };
  const audit = async (
    cancelOrderId: string,
    account: PaybyAccount,
    exchange: FollowUpExchangeRecord | ExchangeRecord,
  ) => {
    await auditExchange(db, logger, cancelOrderId, account, exchange);
  };
  const ahead = (cancelOrderId: string, account: PaybyAccount) => writeAhead(db, cancelOrderId, account);
  const noAccount = (accountId: string): FollowUpOutcome => ({
    kind: 'misconfigured',
    code: 'UNKNOWN_ACCOUNT',
    message: `no PayBy account "${accountId}" in config`,
  });

  return {
    /** getOrder for the policy: status, revoked, paidTime and amount, only from a verified answer. */
    async inspectPaidOrder(
      input: FollowUpCallInput,
    ): Promise<{ payment?: OrderPaymentFacts; revoke: FollowUpOutcome }> {
      const entry = adapterFor(input.accountId);
      if (!entry) return { revoke: noAccount(input.accountId) };
      const result = await entry.adapter.queryOrder(input.order, ahead(input.cancelOrderId, entry.account));
      if (result.exchange) await audit(input.cancelOrderId, entry.account, result.exchange);
      return { ...(result.payment ? { payment: result.payment } : {}), revoke: result.revoke };
    },

    async revokePaidOrder(input: FollowUpCallInput): Promise<FollowUpOutcome> {
      const entry = adapterFor(input.accountId);
      if (!entry) return noAccount(input.accountId);
      const result = await entry.adapter.revokeOrder(input.order, ahead(input.cancelOrderId, entry.account));
      await audit(input.cancelOrderId, entry.account, result.exchange);
      return result.outcome;
    },

    async placePaidOrderRefund(
      input: FollowUpCallInput & { refundId: string; amount: Money },
    ): Promise<FollowUpOutcome> {
      const entry = adapterFor(input.accountId);
      if (!entry) return noAccount(input.accountId);
      const result = await entry.adapter.placeRefund(
        {
          refundMerchantOrderNo: input.refundId,
          order: input.order,
          amount: input.amount,
          reason: `cancellation ${input.cancelOrderId}`,
        },
        ahead(input.cancelOrderId, entry.account),
      );
      await audit(input.cancelOrderId, entry.account, result.exchange);
      return result.outcome;
    },

    async queryPaidOrderRefund(
      input: FollowUpCallInput & { refundId: string; amount: Money },
    ): Promise<FollowUpOutcome> {
      const entry = adapterFor(input.accountId);
      if (!entry) return noAccount(input.accountId);
      const result = await entry.adapter.queryRefund(
        {
          refundMerchantOrderNo: input.refundId,
          order: input.order,
          amount: input.amount,
        },
        ahead(input.cancelOrderId, entry.account),
      );
      await audit(input.cancelOrderId, entry.account, result.exchange);
      return result.outcome;
    },

    /** The refund's row: created once before the first send, then its status as PayBy reports it. */
    async recordRefund(input: {
      refundId: string;
      cancelOrderId: string;
      amount: Money;
      status: string;
      providerRefundNo?: string;
    }): Promise<void> {
      await db('refunds')
        .insert({
          refund_id: input.refundId,
          cancel_order_id: input.cancelOrderId,
          amount_minor: input.amount.minor,
          currency: input.amount.currency,
          status: input.status,
          provider_refund_no: input.providerRefundNo ?? null,
        })
        .onConflict('refund_id')
        .merge({
          status: input.status,
          ...(input.providerRefundNo ? { provider_refund_no: input.providerRefundNo } : {}),
          updated_at: db.fn.now(),
        });
    },
  };
}
