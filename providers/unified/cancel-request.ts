/** The business rules of a cancel request (zod schema per URL policy), shared by the API and the client. */
import { z } from 'zod';
import { checkUrl, type UrlPolicy } from '../../common/url-policy';
import { CANCEL_REQUEST_FIELDS, ProtocolError } from './message-fields';

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
