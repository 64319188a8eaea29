/** The ids and workflow ids of the contract: pure, shared by the workflows, activities, API and client. */

export const CANCEL_ORDER_ID = /^C\d{21}$/;

/** `pay:<payOrderId>` when the payment order is known, else `mch:<mchOrderNo>`. */
export function orderRefOf(order: { payOrderId?: string; mchOrderNo?: string }): string {
  if (order.payOrderId) return `pay:${order.payOrderId}`;
  if (order.mchOrderNo) return `mch:${order.mchOrderNo}`;
  throw new Error('an order needs payOrderId or mchOrderNo');
}

/** Every number the request names the order by: each one finds an existing cancellation. */
export function orderRefsOf(order: { payOrderId?: string; mchOrderNo?: string }): string[] {
  return [
    ...(order.payOrderId ? [`pay:${order.payOrderId}`] : []),
    ...(order.mchOrderNo ? [`mch:${order.mchOrderNo}`] : []),
  ];
}

/**
 * One workflow per (account, app, order): two apps routed to the same account never share a
 * cancellation, its id, its data or its notification.
 */
export function cancellationWorkflowId(
  accountId: string,
  app: { mchNo: string; appId: string },
  orderRef: string,
): string {
  return `cancel/${accountId}/${app.mchNo}/${app.appId}/${orderRef}`;
}

/** The notification delivery workflow of one cancellation. */
export function notificationWorkflowId(cancelOrderId: string): string {
  return `notify/${cancelOrderId}`;
}

/** The repair of a closed cancellation by one verified provider callback (one run per callback). */
export function repairWorkflowId(cancelOrderId: string, callbackId: string): string {
  return `repair/${cancelOrderId}/${callbackId}`;
}

/** The settling by hand of one cancellation (`cancelflow settle`): at most one that writes. */
export function settleWorkflowId(cancelOrderId: string): string {
  return `settle/${cancelOrderId}`;
}
