import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestRecord } from './load';
import type { ProviderProxy } from './proxy';
import { filesUnder } from './secrets';

/**
 * What a run leaves in its directory for a post-mortem besides the logs: every request with its
 * attempts (requests.jsonl) and every provider exchange the proxies saw (journals.jsonl).
 */
export function writeArtifacts(
  dir: string,
  records: RequestRecord[],
  proxies: Record<string, ProviderProxy>,
): void {
  writeFileSync(
    path.join(dir, 'requests.jsonl'),
    records
      .map((r) =>
        JSON.stringify({
          i: r.order.i,
          behaviour: r.order.behaviour,
          app: r.order.app.name,
          orderRef: r.order.orderRef,
          kind: r.kind,
          sentAt: r.sentAt,
          acceptedAt: r.acceptedAt,
          cancelOrderId: r.cancelOrderId,
          state: r.state,
          attempts: r.attempts.map(
            (a) => `${a.at - r.sentAt}ms api-${a.api + 1} ${a.code ?? a.error ?? a.status}`,
          ),
        }),
      )
      .join('\n'),
  );
  writeFileSync(
    path.join(dir, 'journals.jsonl'),
    Object.entries(proxies)
      .flatMap(([name, p]) => p.journal.map((j) => JSON.stringify({ provider: name, ...j })))
      .join('\n'),
  );
}

/** Lines of the worker logs saying a provider exchange could not be recorded (audit holes). */
export function countAuditErrors(logDir: string): number {
  return filesUnder(logDir, (n) => n.startsWith('worker-'))
    .map((f) => (readFileSync(f, 'utf8').match(/could not record a provider exchange/g) ?? []).length)
    .reduce((a, b) => a + b, 0);
}
