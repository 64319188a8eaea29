import type { Got } from 'got' with { 'resolution-mode': 'import' };
import type { CancelOutcome, ExchangeRecord, ProviderOperation, SignatureVerdict } from './types';

/**
 * One HTTP POST to a provider with got: explicit connect/response timeouts and a bound on the
 * whole exchange (connect + response), no got retries
 * (Temporal owns retries), no redirects, a capped response body, and transport failures returned
 * as values so every exchange can be recorded.
 */

let gotInstance: Promise<Got> | undefined;

/** got is ESM-only; this CommonJS build loads it once with a dynamic import. */
export function loadGot(): Promise<Got> {
  gotInstance ??= import('got').then((m) => m.default);
  return gotInstance;
}

export interface HttpTimeouts {
  connectMs: number;
  responseMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { connectMs: 5_000, responseMs: 20_000 };
export const MAX_RESPONSE_BYTES = 256 * 1024;

export type HttpAnswer =
  | {
      ok: true;
      status: number;
      headers: Record<string, string | string[] | undefined>;
      body: string;
      latencyMs: number;
    }
  | { ok: false; error: string; code: string; latencyMs: number };

export interface PostOptions {
  /** Bodies larger than this are not read (default 256 KiB). */
  maxBytes?: number;
  /** A DNS lookup that refuses forbidden addresses (notifications). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- got's own LookupFunction type
  dnsLookup?: (hostname: string, options: object, callback: (...args: any[]) => void) => void;
}

export async function postRaw(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
  options: PostOptions = {},
): Promise<HttpAnswer> {
  const maxBytes = options.maxBytes ?? MAX_RESPONSE_BYTES;
  const got = await loadGot();
  const started = performance.now();
  const latency = (): number => Math.round(performance.now() - started);
  try {
    const request = got.post(url, {
      headers,
      body,
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
      decompress: true,
      responseType: 'buffer',
      ...(options.dnsLookup ? { dnsLookup: options.dnsLookup as never } : {}),
      timeout: {
        lookup: timeouts.connectMs,
        connect: timeouts.connectMs,
        secureConnect: timeouts.connectMs,
        send: timeouts.responseMs,
        response: timeouts.responseMs,
        socket: timeouts.responseMs,
        // The whole exchange, body included: the others are per phase or idle timers, which a
        // server dripping its body (a byte, or an empty compressed block, now and then) resets.
        request: timeouts.connectMs + timeouts.responseMs,
      },
    });
    void request.on('downloadProgress', (progress: { transferred: number }) => {
      if (progress.transferred > maxBytes) request.cancel('response body too large');
    });
    const response = await request;
    return {
      ok: true,
      status: response.statusCode,
      headers: response.headers,
      body: response.body.toString('utf8'),
      latencyMs: latency(),
    };
  } catch (err) {
    const e = err as { code?: string; name?: string; message?: string };
    const tooLarge = e.name === 'CancelError';
    const code = tooLarge ? 'ERR_RESPONSE_TOO_LARGE' : (e.code ?? e.name ?? 'ERR_HTTP');
    const message = tooLarge
      ? `response body too large (over ${maxBytes} bytes), not read`
      : (e.message ?? String(err));
    return {
      ok: false,
      code,
      error: `${code}: ${message}`.slice(0, 500),
      latencyMs: latency(),
    };
  }
}

/** A header value as one string (got gives arrays for repeated headers). */
export function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** At most `max` characters of a body, for the audit log. */
export function excerpt(body: string, max = 4_000): string {
  return body.length > max ? `${body.slice(0, max)}…[${body.length - max} more]` : body;
}

/** The audit record of one exchange (what `provider_calls` stores): request, answer, verdict, outcome. */
export function exchangeRecord(
  operation: ProviderOperation,
  url: string,
  request: ExchangeRecord['request'],
  answer: HttpAnswer,
  signature: SignatureVerdict,
  outcome: CancelOutcome,
): ExchangeRecord {
  return {
    operation,
    url,
    request,
    signature,
    outcome,
    latencyMs: answer.latencyMs,
    ...(answer.ok
      ? { httpStatus: answer.status, responseBody: excerpt(answer.body) }
      : { error: answer.error }),
  };
}
