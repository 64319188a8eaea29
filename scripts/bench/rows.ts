/** Cancellation rows written straight into Postgres, as a PayBy workflow would have left them. */
import { SANDBOX_APPS } from '../../sandbox/standalone';

/** A PayBy sandbox cancellation row as a workflow would have left it. */
export function cancellationRow(
  cancelOrderId: string,
  account: string,
  order: string,
  status: string,
  state: number,
) {
  const app = SANDBOX_APPS.payby;
  return {
    cancel_order_id: cancelOrderId,
    workflow_id: `cancel/${account}/mch:${order}`,
    mch_no: app.mchNo,
    app_id: app.appId,
    account_id: account,
    provider: 'payby',
    order_ref: `mch:${order}`,
    mch_order_no: order,
    status,
    state,
  };
}
