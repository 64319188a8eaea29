import type { IncomingMessage } from 'node:http';

/** Faults a sandbox can answer with instead of the protocol's answer. */
export type SandboxFault = 'http402' | 'http500' | 'http504' | 'timeout' | 'reset' | 'empty' | 'oversized';

/** A 300 KiB JSON-looking body: larger than any client should buffer from a provider. */
export const OVERSIZED_BODY = `{"code":0,"msg":"${'x'.repeat(300 * 1024)}"}`;

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** A seed-000 body as flat string parameters: JSON or application/x-www-form-urlencoded. */
export function parseParams(
  raw: string,
  contentType: string | undefined,
): Record<string, string> | undefined {
  if (contentType?.includes('application/x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(raw));
  try {
    const json = JSON.parse(raw) as unknown;
    if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
    return Object.fromEntries(
      Object.entries(json as Record<string, unknown>)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
  } catch {
    return undefined;
  }
}
