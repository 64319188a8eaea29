import { z } from 'zod';
import { CancelflowError } from '../../common/errors';
import { checkUrl, type UrlPolicy } from '../../common/url-policy';

/**
 * Seed 000's field rules, in one place: the tables of the messages we receive and send, reading a
 * received body into the flat parameters its signature covers, and the business rules of a cancel
 * request (used by the API and by the TypeScript client alike). Pure: no I/O, no config loading.
 */

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

/**
 * Fields whose text is stored or queried as is (Postgres text cannot hold NUL). The others are
 * checked against config or a format first (mchNo/appId, reqTime, version, sign…).
 */
const NUL_REFUSED = new Set([
  'payOrderId',
  'mchOrderNo',
  'notifyUrl',
  'extParam',
  'clientIp',
  'channelExtra',
  'cancelOrderId',
]);

/** A field's name as an error message shows it: bounded, never empty. */
function label(name: string): string {
  if (name === '') return '(empty name)';
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

function ownRule(rules: FieldRules, name: string): FieldRule | undefined {
  return Object.hasOwn(rules, name) ? rules[name] : undefined;
}

/** The end of the JSON string starting at `start` (its opening quote): the index after its closing quote. */
function stringEnd(raw: string, start: number): number {
  for (let i = start + 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return raw.length;
}

/**
 * The first name given twice in a JSON object text that already parsed (JSON.parse keeps the last,
 * other readers the first: which one was signed is ambiguous).
 */
function duplicateJsonName(raw: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectName = true;
  for (let i = raw.indexOf('{') + 1; i < raw.length;) {
    const c = raw[i];
    if (c === '"') {
      const end = stringEnd(raw, i);
      if (depth === 0 && expectName) {
        const name = JSON.parse(raw.slice(i, end)) as string;
        if (seen.has(name)) return name;
        seen.add(name);
        expectName = false;
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) expectName = true;
    i++;
  }
  return undefined;
}

function bodyEntries(raw: string, contentType: string | undefined): Array<[string, unknown]> {
  if (contentType?.trim().toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const entries = [...new URLSearchParams(raw).entries()];
    const seen = new Set<string>();
    for (const [name] of entries) {
      if (seen.has(name)) throw new ProtocolError('BAD_FIELD', label(name), 'is given more than once');
      seen.add(name);
    }
    return entries;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ProtocolError('BAD_BODY', 'body', 'is not valid JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new ProtocolError('BAD_BODY', 'body', 'must be a JSON object');
  const duplicate = duplicateJsonName(raw);
  if (duplicate !== undefined)
    throw new ProtocolError('BAD_FIELD', label(duplicate), 'is given more than once');
  return Object.entries(json);
}

/**
 * A received body (JSON or form) as flat strings, what its MD5 signature covers, with the fields of
 * `rules` checked: presence, type, length and their own rule. Null values are dropped; a JSON number
 * is read only for `long` fields; fields not in `rules` are kept (they are signed), non-strings as
 * their JSON text. Throws a {@link ProtocolError}.
 */
export function readParams(
  raw: string,
  contentType: string | undefined,
  rules: FieldRules,
): Record<string, string> {
  if (raw.trim() === '') throw new ProtocolError('BAD_BODY', 'body', 'is empty');
  const params = new Map<string, string>();
  for (const [name, value] of bodyEntries(raw, contentType)) {
    if (value === null || value === undefined) continue;
    const rule = ownRule(rules, name);
    // A field of the seed's (we store them; Postgres text cannot hold NUL) refuses NUL, naming it.
    // Other fields are only signed, never stored: the signature decides about them.
    if (rule && NUL_REFUSED.has(name) && typeof value === 'string' && value.includes('\u0000'))
      throw new ProtocolError('BAD_FIELD', label(name), 'must not contain a NUL character');
    if (typeof value === 'string') params.set(name, value);
    else if (typeof value === 'number' && rule?.long && Number.isSafeInteger(value))
      params.set(name, String(value));
    else if (rule)
      throw new ProtocolError(
        'BAD_FIELD',
        name,
        rule.long ? 'must be a number or digit string' : 'must be a string',
      );
    else params.set(name, JSON.stringify(value));
  }
  for (const [name, rule] of Object.entries(rules)) {
    const value = params.get(name);
    if (value === undefined || value === '') {
      if (rule.required) throw new ProtocolError('BAD_FIELD', name, 'is required');
      continue;
    }
    if (rule.max !== undefined && value.length > rule.max)
      throw new ProtocolError('BAD_FIELD', name, `must be at most ${rule.max} characters`);
    const reason = rule.check?.(value);
    if (reason) throw new ProtocolError('BAD_FIELD', name, reason);
  }
  // fromEntries defines every name as an own property (`__proto__` included).
  return Object.fromEntries(params);
}

/** Dotted-quad IPv4: four decimal octets 0-255, no leading zeros (`010` could be read as octal). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** "in json format string": JSON text of an object or an array, what channels read. */
function isJsonObjectText(value: string): boolean {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}

const maxOf = (name: keyof typeof CANCEL_REQUEST_FIELDS): number => CANCEL_REQUEST_FIELDS[name].max;

const requiredText = (max: number) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
    .min(1, 'is required')
    .max(max, `must be at most ${max} characters`);

/** Optional text: the empty string is absent, as the signature treats it. */
const optionalText = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .max(max, `must be at most ${max} characters`)
    .optional()
    .transform((v) => (v === '' ? undefined : v));

function buildCancelRequestSchema(policy: UrlPolicy) {
  return z
    .object({
      mchNo: requiredText(maxOf('mchNo')),
      appId: requiredText(maxOf('appId')),
      payOrderId: optionalText(maxOf('payOrderId')),
      mchOrderNo: optionalText(maxOf('mchOrderNo')),
      notifyUrl: optionalText(maxOf('notifyUrl')).superRefine((v, ctx) => {
        if (v === undefined) return;
        const checked = checkUrl(v, policy);
        if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.reason });
      }),
      extParam: optionalText(maxOf('extParam')),
      clientIp: optionalText(maxOf('clientIp')).refine(
        (v) => v === undefined || IPV4.test(v),
        'must be an IPv4 address',
      ),
      channelExtra: optionalText(maxOf('channelExtra')).refine(
        (v) => v === undefined || isJsonObjectText(v),
        'must be JSON text of an object or array',
      ),
    })
    .refine((v) => v.payOrderId !== undefined || v.mchOrderNo !== undefined, {
      message: 'payOrderId or mchOrderNo is required',
      path: ['payOrderId'],
    });
}

export type CancelRequestSchema = ReturnType<typeof buildCancelRequestSchema>;
/** The business fields of a cancel request as given (the client's input type). */
export type CancelRequestInput = z.input<CancelRequestSchema>;
/** The business fields of a cancel request that passed: optional empty strings are undefined. */
export type CancelRequest = z.output<CancelRequestSchema>;

const schemas = new WeakMap<UrlPolicy, CancelRequestSchema>();

/**
 * The business fields of a cancel request (mchNo, appId, payOrderId, mchOrderNo, notifyUrl,
 * extParam, clientIp, channelExtra) with the seed's lengths and our rules; other keys are stripped.
 * notifyUrl is checked against `policy` now, and again at delivery. One schema per policy object.
 */
export function cancelRequestSchema(policy: UrlPolicy): CancelRequestSchema {
  let schema = schemas.get(policy);
  if (!schema) {
    schema = buildCancelRequestSchema(policy);
    schemas.set(policy, schema);
  }
  return schema;
}

/** The first issue of a failed parse as field and reason (`(request)` when it is the whole value). */
export function firstIssue(error: z.ZodError): { field: string; reason: string } {
  const issue = error.issues[0];
  return { field: issue?.path.join('.') || '(request)', reason: issue?.message ?? 'is invalid' };
}

/** {@link cancelRequestSchema} over received parameters; throws a `BAD_FIELD` {@link ProtocolError}. */
export function checkCancelRequest(params: Record<string, unknown>, policy: UrlPolicy): CancelRequest {
  const parsed = cancelRequestSchema(policy).safeParse(params);
  if (parsed.success) return parsed.data;
  const { field, reason } = firstIssue(parsed.error);
  throw new ProtocolError('BAD_FIELD', field, reason);
}

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
