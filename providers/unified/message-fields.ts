/** Seed 000's field tables per message (cancel, query, notification) and the error for breaking them. */
import { CancelflowError } from '../../common/errors';

export type ProtocolErrorCode = 'BAD_BODY' | 'BAD_FIELD';

/** A body or field that breaks seed 000's rules. The message starts with the field's name. */
export class ProtocolError extends CancelflowError {
  override readonly name = 'ProtocolError';
  declare readonly code: ProtocolErrorCode;

  constructor(
    code: ProtocolErrorCode,
    /** The field at fault, or `body`. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(code, `${field}: ${reason}`);
  }
}

export interface FieldRule {
  readonly required: boolean;
  /** Most characters (UTF-16 units, as Java counts them); none for the seed's bare `String`. */
  readonly max?: number;
  /** A seed `long` or `int`: a JSON number (a safe integer) is accepted and read as its digits. */
  readonly long?: boolean;
  /** A further rule on the received text: why it is wrong, or undefined. */
  readonly check?: (value: string) => string | undefined;
}

export type FieldRules = Readonly<Record<string, FieldRule>>;

/** 13 digits (milliseconds) as the seed says; 10 (seconds) too, as the seed's own examples send. */
const REQ_TIME = /^\d{13}$|^\d{10}$/;

/** Milliseconds of a `reqTime` that passed its rule (10 digits are seconds). */
export function reqTimeMs(reqTime: string): number {
  return reqTime.length === 10 ? Number(reqTime) * 1000 : Number(reqTime);
}

const COMMON_FIELDS = {
  mchNo: { required: true, max: 30 },
  appId: { required: true, max: 24 },
  reqTime: {
    required: true,
    max: 13,
    long: true,
    check: (v) => (REQ_TIME.test(v) ? undefined : 'must be a 13-digit millisecond timestamp'),
  },
  version: { required: true, max: 3, check: (v) => (v === '1.0' ? undefined : 'must be "1.0"') },
  sign: { required: true, max: 32 },
  signType: { required: true, max: 32, check: (v) => (v === 'MD5' ? undefined : 'must be "MD5"') },
} satisfies FieldRules;

/** `POST /api/pay/cancel`. payOrderId / mchOrderNo: one of them, see {@link cancelRequestSchema}. */
export const CANCEL_REQUEST_FIELDS = {
  ...COMMON_FIELDS,
  payOrderId: { required: false, max: 30 },
  mchOrderNo: { required: false, max: 30 },
  clientIp: { required: false, max: 32 },
  notifyUrl: { required: false, max: 128 },
  channelExtra: { required: false, max: 256 },
  extParam: { required: false, max: 512 },
} satisfies FieldRules;

/** `POST /api/cancel/query`. */
export const CANCEL_QUERY_FIELDS = {
  ...COMMON_FIELDS,
  cancelOrderId: { required: true, max: 30 },
} satisfies FieldRules;

/** The Cancel Notification posted to a notifyUrl (sent by us, received from an upstream gateway). */
export const CANCEL_NOTIFICATION_FIELDS = {
  cancelOrderId: { required: true, max: 30 },
  payOrderId: { required: true, max: 30 },
  mchNo: { required: true, max: 30 },
  appId: { required: true, max: 24 },
  payAmount: { required: true, long: true },
  currency: { required: true, max: 3 },
  state: { required: true, long: true },
  channelOrderNo: { required: false },
  errCode: { required: false },
  errMsg: { required: false },
  extraParam: { required: false, max: 512 },
  createdAt: { required: true, long: true },
  successTime: { required: false, long: true },
  reqTime: { required: true, max: 30, long: true },
  sign: { required: true, max: 32 },
} satisfies FieldRules;
