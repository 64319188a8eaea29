import { z } from 'zod';
import { DEFAULT_TIMEOUTS, type HttpTimeouts } from './http';

/**
 * What every provider account in the config file has besides its protocol's own options (each
 * protocol's options.ts adds those and its identifier; common/config composes them).
 */

export const httpUrl = z
  .string()
  .refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), 'must be an http(s) URL');

export const accountId = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, _ or -');

/** How hard and how long an account's provider may be asked. */
export const accountLimits = {
  /** Requests per second this account may send to the provider during reconciliation. */
  rateLimitPerSecond: z.number().positive().optional(),
  /** HTTP timeouts towards the provider; `DEFAULT_TIMEOUTS` when absent. */
  connectTimeoutMs: z.number().int().positive().max(60_000).optional(),
  responseTimeoutMs: z.number().int().positive().max(120_000).optional(),
};

/** An account's HTTP timeouts, its own or the defaults. */
export function accountTimeouts(account: {
  connectTimeoutMs?: number | undefined;
  responseTimeoutMs?: number | undefined;
}): HttpTimeouts {
  return {
    connectMs: account.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectMs,
    responseMs: account.responseTimeoutMs ?? DEFAULT_TIMEOUTS.responseMs,
  };
}
