import type { z } from 'zod';
import { CancelflowError } from '../common/errors';
import {
  cancelRequestSchema,
  firstIssue,
  type CancelRequest,
  type CancelRequestInput,
} from '../providers/unified/protocol';

/**
 * The rules of a cancel request are seed 000's (providers/unified/protocol); the client checks the
 * same ones as the API, notifyUrl against the notification policy it is given.
 */
export const startCancellationSchema = cancelRequestSchema;

export type StartCancellationRequest = CancelRequestInput;
export type ValidStartCancellation = CancelRequest;

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
  const { field, reason } = firstIssue(parsed.error);
  throw new ValidationError(field, reason);
}
