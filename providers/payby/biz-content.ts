import type { OrderRef } from '../types';

export type BizContent = { orderNo: string } | { merchantOrderNo: string };

/** The number a request names the order by: PayBy's `orderNo` when we know it, else our `merchantOrderNo`. */
export function askedBizContent(order: OrderRef): BizContent | undefined {
  if (order.payOrderId) return { orderNo: order.payOrderId };
  if (order.mchOrderNo) return { merchantOrderNo: order.mchOrderNo };
  return undefined;
}

/** `bizContent` names the order by PayBy's `orderNo` or our `merchantOrderNo`, never both. */
export function bizContentFor(order: OrderRef): BizContent {
  const biz = askedBizContent(order);
  if (!biz) throw new Error('an order reference (payOrderId or mchOrderNo) is required');
  return biz;
}
