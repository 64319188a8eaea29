import { hash, timingSafeEqual } from 'node:crypto';

/**
 * Seed 000's MD5 signature (PROVIDERS.md): drop `sign` and null/undefined/empty values, make
 * `name=value&` fragments, sort them with Java's String.CASE_INSENSITIVE_ORDER, append
 * `key=<app key>`, MD5 the UTF-8 bytes, upper-case hex.
 */

export type SignableParams = Record<string, unknown>;

function plain(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

/**
 * Java's `String.CASE_INSENSITIVE_ORDER`: char by char, upper-cased then lower-cased. ASCII pairs
 * (every field name of the seeds) take a fast path without allocating; it gives the same order.
 */
export function compareCaseInsensitive(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 128 && y < 128) {
      const lx = x >= 65 && x <= 90 ? x + 32 : x;
      const ly = y >= 65 && y <= 90 ? y + 32 : y;
      if (lx !== ly) return lx - ly;
      continue;
    }
    const u1 = a[i]!.toUpperCase();
    const u2 = b[i]!.toUpperCase();
    if (u1 !== u2) {
      const l1 = u1.toLowerCase();
      const l2 = u2.toLowerCase();
      if (l1 !== l2) return l1.charCodeAt(0) - l2.charCodeAt(0);
    }
  }
  return a.length - b.length;
}

export function signingString(params: SignableParams, key: string): string {
  const fragments = Object.entries(params)
    .filter(([name, value]) => name !== 'sign' && value !== null && value !== undefined && value !== '')
    .map(([name, value]) => `${name}=${plain(value)}&`)
    .sort(compareCaseInsensitive);
  return `${fragments.join('')}key=${key}`;
}

export function md5Sign(params: SignableParams, key: string): string {
  // One-shot `hash` (Node 20.12+; engines ask 20.19): the string's UTF-8 bytes, no Hash object.
  return hash('md5', signingString(params, key), 'hex').toUpperCase();
}

/** Case-insensitive, constant-time comparison of a received signature with the expected one. */
export function verifyMd5Sign(params: SignableParams, sign: unknown, key: string): boolean {
  if (typeof sign !== 'string' || !/^[0-9a-fA-F]{32}$/.test(sign)) return false;
  const expected = Buffer.from(md5Sign(params, key), 'ascii');
  const received = Buffer.from(sign.toUpperCase(), 'ascii');
  return timingSafeEqual(expected, received);
}

/** The fields every signed seed-000 request carries besides its own. */
export interface EnvelopeApp {
  mchNo: string;
  appId: string;
}

/**
 * A signed seed-000 request: the app's `mchNo` and `appId`, `reqTime` (ms, now), `version` 1.0,
 * `signType` MD5, then the given fields (which may replace any of those; undefined ones are left
 * out), and `sign` over all of them. One builder for the adapter, the bench, the demo, the chaos
 * load and the tests.
 */
export function signEnvelope(
  app: EnvelopeApp,
  key: string,
  fields: Record<string, string | number | undefined>,
  now: number = Date.now(),
): Record<string, string | number> {
  const params: Record<string, string | number> = {
    mchNo: app.mchNo,
    appId: app.appId,
    reqTime: String(now),
    version: '1.0',
    signType: 'MD5',
  };
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) params[name] = value;
  params.sign = md5Sign(params, key);
  return params;
}

/** Whether a received seed-000 message (request or notification) is signed with `key`. */
export function verifyEnvelope(params: SignableParams, key: string): boolean {
  return verifyMd5Sign(params, params.sign, key);
}
