/** A cancellations row as seed 000's cancel-order fields: the query answer's `data`, the notification. */

/** The columns of a `cancellations` row that seed 000's cancel-order fields come from. */
export interface CancelOrderRow {
  cancel_order_id: string;
  pay_order_id: string | null;
  provider_order_no: string | null;
  mch_no: string;
  app_id: string;
  amount_minor: number | string | null;
  currency: string | null;
  state: number;
  channel_order_no: string | null;
  err_code: string | null;
  err_msg: string | null;
  ext_param: string | null;
  success_time: Date | null;
  created_at: Date;
}

/** Seed 000's cancel-order fields of a cancellation (query answer `data`; JSON types). */
export interface CancelOrderFields {
  cancelOrderId: string;
  payOrderId: string;
  mchNo: string;
  appId: string;
  payAmount?: number;
  currency: string;
  state: number;
  channelOrderNo: string;
  errCode: string;
  errMsg: string;
  extraParam: string;
  successTime?: number;
  createdAt: number;
}

/**
 * A cancellation row as seed 000's cancel-order fields: the one mapping behind the query answer
 * and the Cancel Notification (which sends them as strings, see {@link notificationFields}).
 */
export function cancelOrderFields(row: CancelOrderRow): CancelOrderFields {
  return {
    cancelOrderId: row.cancel_order_id,
    payOrderId: row.pay_order_id ?? row.provider_order_no ?? '',
    mchNo: row.mch_no,
    appId: row.app_id,
    ...(row.amount_minor !== null ? { payAmount: Number(row.amount_minor) } : {}),
    currency: row.currency ?? '',
    state: row.state,
    channelOrderNo: row.channel_order_no ?? '',
    errCode: row.err_code ?? '',
    errMsg: row.err_msg ?? '',
    extraParam: row.ext_param ?? '',
    ...(row.success_time ? { successTime: row.success_time.getTime() } : {}),
    createdAt: row.created_at.getTime(),
  };
}

/** The Cancel Notification's form fields (before `sign`): the cancel order's fields as strings plus `reqTime`. */
export function notificationFields(row: CancelOrderRow, reqTime: number): Record<string, string> {
  const f = cancelOrderFields(row);
  return {
    cancelOrderId: f.cancelOrderId,
    payOrderId: f.payOrderId,
    mchNo: f.mchNo,
    appId: f.appId,
    payAmount: f.payAmount === undefined ? '' : String(f.payAmount),
    currency: f.currency,
    state: String(f.state),
    channelOrderNo: f.channelOrderNo,
    errCode: f.errCode,
    errMsg: f.errMsg,
    extraParam: f.extraParam,
    createdAt: String(f.createdAt),
    successTime: f.successTime === undefined ? '' : String(f.successTime),
    reqTime: String(reqTime),
  };
}
