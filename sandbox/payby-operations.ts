/** The PayBy sandbox's operations: cancelOrder, getOrder, revokeOrder, refund placeOrder and getOrder. */
import type { IncomingMessage } from 'node:http';
import { AmountError, decimalToMinor, minorToDecimal } from '../common/money';
import { JsonDecimal, type JsonText } from '../providers/payby/json-text';
import {
  DEFAULT_AMOUNT,
  DEFAULT_CURRENCY,
  type PaybyOrderStatus,
  type PaybySandboxCall,
  type PaybySandboxOrder,
  type PaybySandboxRefund,
  type PaybyStore,
} from './payby-state';

/** A PayBy request body, as far as the sandbox reads it. */
export interface PaybyRequestBody {
  requestTime?: number;
  bizContent?: {
    merchantOrderNo?: string;
    orderNo?: string;
    refundMerchantOrderNo?: string;
    originMerchantOrderNo?: string;
    originOrderNo?: string;
    amount?: { currency?: unknown; amount?: unknown };
    reason?: string;
  };
}

/** The neighbouring order's numbers, which a `misaddressed` answer names instead of ours. */
function anotherOrder(order: { merchantOrderNo: string; orderNo: string }) {
  return {
    merchantOrderNo: `${order.merchantOrderNo}1`,
    orderNo: /^\d+$/.test(order.orderNo) ? String(BigInt(order.orderNo) + 1n) : `${order.orderNo}1`,
  };
}

/** The neighbouring refund's ids, which a `misaddressed` refund answer names instead of ours. */
function anotherRefund(refund: PaybySandboxRefund) {
  return { refundMerchantOrderNo: `${refund.refundMerchantOrderNo}1`, orderNo: `${refund.orderNo}1` };
}

const money = (minor: number, currency: string) => ({
  currency,
  amount: new JsonDecimal(minorToDecimal(minor, currency)),
});

/** A request that passed the route's checks, about the order it names. */
export interface PaybyOperationRequest {
  store: PaybyStore;
  req: IncomingMessage;
  /** Answers signed (or spoilt the way the order's behaviour says), HTTP 200 unless told. */
  answer: (head: Record<string, string>, body?: JsonText, order?: PaybySandboxOrder, status?: number) => void;
  /** A FAIL answer with PayBy's code and message. */
  fail: (code: string, msg: string, order?: PaybySandboxOrder) => void;
  operation: PaybySandboxCall;
  biz: NonNullable<PaybyRequestBody['bizContent']>;
  requestTime: number;
  /** The order the request is about. */
  ours: PaybySandboxOrder;
  /** The refund a refund-query names. */
  refund: PaybySandboxRefund | undefined;
}

/** Applies the operation to the order (and refund) and answers it. */
export function answerPaybyOperation(request: PaybyOperationRequest) {
  const { store, req, answer, fail, operation, biz, requestTime, ours, refund } = request;
  const { refunds, totalMinor, refundsOf, refundable } = store;
  const success = { applyStatus: 'SUCCESS', code: '0', msg: 'SUCCESS' };
  const named = ours.misaddressed ? anotherOrder(ours) : ours;
  const acquireOrder = (shown: { status: PaybyOrderStatus; revoked: boolean } = ours): JsonText => {
    const totalAmount = {
      currency: ours.currency ?? DEFAULT_CURRENCY,
      amount: ours.amount ?? DEFAULT_AMOUNT,
    };
    return {
      merchantOrderNo: named.merchantOrderNo,
      orderNo: named.orderNo,
      status: shown.status,
      ...(ours.paidTime !== undefined
        ? {
            paymentInfo: {
              paidAmount: { ...totalAmount, amount: ours.paidAmount ?? totalAmount.amount },
              paidTime: ours.paidTime,
              payChannel: 'BALANCE',
            },
          }
        : {}),
      product: 'Basic Payment Gateway',
      totalAmount,
      requestTime,
      revoked: String(shown.revoked),
    };
  };
  const refundAnswer = (r: PaybySandboxRefund): void => {
    const refundNames = ours.misaddressed ? anotherRefund(r) : r;
    return answer(
      success,
      {
        refundOrder: {
          refundMerchantOrderNo: refundNames.refundMerchantOrderNo,
          orderNo: refundNames.orderNo,
          originMerchantOrderNo: named.merchantOrderNo,
          originOrderNo: named.orderNo,
          status: r.status,
          amount: money(r.amountMinor, r.currency),
          reason: r.reason,
          ...(r.status === 'FAILURE' ? { failCode: '62045', failDes: 'REFUND_REJECTED' } : {}),
        },
        refundSummary: {
          acquireAmount: money(totalMinor(ours), r.currency),
          remainRefundAmount: money(refundable(ours), r.currency),
        },
      },
      ours,
    );
  };

  switch (operation) {
    case 'query': {
      const lagging = ours.lagging && ours.lagging.queries > 0 ? ours.lagging : undefined;
      if (lagging) lagging.queries -= 1;
      return answer(success, { acquireOrder: acquireOrder(lagging) }, ours);
    }
    case 'cancel':
      switch (ours.status) {
        case 'PAID_SUCCESS':
          return fail('62001', 'ORDER_PAID', ours);
        case 'SETTLED':
          return fail('62003', 'ORDER_SETTLED', ours);
        case 'FAILURE':
          return fail('62002', 'ORDER_FAILURE', ours);
        case 'CREATED':
          ours.status = 'FAILURE';
          if (ours.loseCancelResponse) {
            ours.loseCancelResponse = false;
            return req.socket.destroy();
          }
          return answer(success, { acquireOrder: acquireOrder() }, ours);
      }
      break;
    case 'revoke':
      if (ours.failFirstRevokes) {
        ours.failFirstRevokes -= 1;
        return answer(
          { applyStatus: 'FAIL', code: '504', msg: 'SERVICE_TIMEOUT' },
          undefined,
          undefined,
          504,
        );
      }
      if (ours.revokeRefusal) return fail(ours.revokeRefusal.code, ours.revokeRefusal.msg, ours);
      // Revoked or refunded already: nothing left to revoke.
      if (ours.revoked || refundsOf(ours).some((r) => r.status !== 'FAILURE'))
        return fail('62041', 'ACQUIRE_ORDER_REFUNDED', ours);
      if (ours.staleQueriesAfterRevoke)
        ours.lagging = { status: ours.status, revoked: ours.revoked, queries: ours.staleQueriesAfterRevoke };
      switch (ours.status) {
        // A SETTLED order keeps its status; its reversal is a refund.
        case 'SETTLED':
          return fail('62046', 'REVOKE_REJECTED', ours);
        case 'PAID_SUCCESS':
          ours.revoked = true;
          ours.revokes += 1;
          ours.status = 'FAILURE';
          break;
        case 'CREATED':
          // No payment: the revoke cancels the order.
          ours.status = 'FAILURE';
          break;
        case 'FAILURE':
          break;
      }
      if (ours.loseRevokeResponse) {
        ours.loseRevokeResponse = false;
        return req.socket.destroy();
      }
      return answer(success, { acquireOrder: acquireOrder() }, ours);
    case 'refund': {
      const id = biz.refundMerchantOrderNo!;
      const existing = refunds.get(id);
      if (existing) {
        const same = existing.originMerchantOrderNo === ours.merchantOrderNo;
        if (same && ours.repeatedRefund === 'same') return refundAnswer(existing);
        if (same && ours.repeatedRefund === 'refunded') return fail('62041', 'ACQUIRE_ORDER_REFUNDED', ours);
        return fail('62017', 'REFUND_MERCHANT_ORDER_NO_EXIST', ours);
      }
      if (ours.revoked) return fail('62040', 'ACQUIRE_ORDER_REVOKED', ours);
      if (ours.status === 'CREATED') return fail('62015', 'ORDER_NOT_PAID', ours);
      if (ours.status === 'FAILURE') return fail('62002', 'ORDER_FAILURE', ours);
      const currency = ours.currency ?? DEFAULT_CURRENCY;
      let minor: number;
      try {
        const amount = biz.amount!.amount;
        if (biz.amount!.currency !== currency || typeof amount !== 'number') throw new AmountError('');
        minor = decimalToMinor(amount, currency);
      } catch (err) {
        if (err instanceof AmountError) return fail('400', 'INVALID_PARAMETER', ours);
        throw err;
      }
      if (minor <= 0) return fail('400', 'INVALID_PARAMETER', ours);
      if (minor > refundable(ours)) return fail('62006', 'REFUND_AMOUNT_EXCEEDED', ours);
      const placed: PaybySandboxRefund = {
        refundMerchantOrderNo: id,
        orderNo: store.nextRefundOrderNo(),
        originMerchantOrderNo: ours.merchantOrderNo,
        originOrderNo: ours.orderNo,
        amountMinor: minor,
        currency,
        status: 'CREATED',
        queries: 0,
        ...(typeof biz.reason === 'string' ? { reason: biz.reason } : {}),
      };
      refunds.set(id, placed);
      ours.refunds += 1;
      if (ours.loseRefundResponse) {
        ours.loseRefundResponse = false;
        return req.socket.destroy();
      }
      return refundAnswer(placed);
    }
    case 'refund-query': {
      const queried = refund!;
      queried.queries += 1;
      if (queried.queries <= (ours.staleRefundQueries ?? 0))
        return fail('62004', 'MERCHANT_ORDER_NO_NOT_EXIST', ours);
      if (queried.status === 'CREATED' && queried.queries > (ours.refundSucceedsAfterQueries ?? 0))
        queried.status = ours.refundFails ? 'FAILURE' : 'SUCCESS';
      return refundAnswer(queried);
    }
  }
}
