import { z } from 'zod';
import { CancelflowError } from '../common/errors';

/** Seed 000's field rules for a cancel request (lengths from its tables). */
const text = (max: number) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`);
const optionalText = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .max(max, `must be at most ${max} characters`)
    .optional()
    .transform((v) => (v === '' ? undefined : v));

export const startCancellationSchema = z
  .object({
    mchNo: text(30),
    appId: text(24),
    payOrderId: optionalText(30),
    mchOrderNo: optionalText(30),
    notifyUrl: optionalText(128).refine(
      (v) => v === undefined || /^https?:\/\/[^\s]+$/i.test(v),
      'must be an http(s) URL',
    ),
    extParam: optionalText(512),
    clientIp: optionalText(32),
    channelExtra: optionalText(256),
  })
  .refine((v) => v.payOrderId !== undefined || v.mchOrderNo !== undefined, {
    message: 'payOrderId or mchOrderNo is required',
    path: ['payOrderId'],
  });

export type StartCancellationRequest = z.input<typeof startCancellationSchema>;
export type ValidStartCancellation = z.output<typeof startCancellationSchema>;

export class ValidationError extends CancelflowError {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super('INVALID_REQUEST', `${field}: ${reason}`);
  }
}

export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ValidationError(issue.path.join('.') || '(request)', issue.message);
}
