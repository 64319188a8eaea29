import type { IncomingMessage, ServerResponse } from 'node:http';

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

export { parseParams } from '../providers/unified/protocol';

/**
 * Answers the transport-level faults every sandbox shares (no answer, reset, empty or oversized
 * body). Returns false for the HTTP-status faults, which each protocol answers in its own words.
 */
export function answerTransportFault(
  fault: SandboxFault,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  switch (fault) {
    case 'timeout':
      return true; // never answer
    case 'reset':
      req.socket.destroy();
      return true;
    case 'empty':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end();
      return true;
    case 'oversized':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(OVERSIZED_BODY);
      return true;
    default:
      return false;
  }
}

/**
 * A provider's own rate limit: a token bucket refilled at `perSecond`, holding at most a tenth of
 * a second's worth (at least 1), so a client that bursts beyond its pace is refused.
 */
export function tokenBucket(perSecond: number, now: () => number = () => performance.now()) {
  const capacity = Math.max(1, perSecond / 10);
  let tokens = capacity;
  let at = now();
  return {
    take(): boolean {
      const t = now();
      tokens = Math.min(capacity, tokens + ((t - at) * perSecond) / 1000);
      at = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
