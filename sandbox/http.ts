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

export { parseParams } from '../common/params';
