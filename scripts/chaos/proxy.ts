import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a provider sandbox, on a port of its own that the provider account's
 * `baseUrl` names. It is the call journal of what the provider saw: every request it passed on
 * (path, the order it names, its signature, when, the status the sandbox answered or that the
 * sandbox dropped it) — the sandboxes keep only the operations per order. And it can **stall**:
 * while stalled, requests are accepted and held without an answer (the provider hangs); when the
 * stall ends they are dropped (connection reset) and never reach the sandbox. (The sandboxes
 * have no stall fault of their own; closing their socket would lose their state.)
 */

export interface JournalEntry {
  at: number;
  path: string;
  /** PayBy: `sign` header; Unified: the `sign` field of the body. Matches provider_calls.request. */
  sign: string | undefined;
  /** PayBy: merchantOrderNo / orderNo; Unified: payOrderId / mchOrderNo / cancelOrderId. */
  ref: string | undefined;
  /** forwarded: the sandbox got it; stalled: held and dropped, the sandbox never saw it. */
  fate: 'forwarded' | 'stalled';
  /** The sandbox's HTTP status; undefined when it dropped the connection or never answered. */
  status?: number;
}

export interface ProviderProxy {
  url: string;
  port: number;
  journal: JournalEntry[];
  stall(on: boolean): void;
  readonly stalled: boolean;
  close(): Promise<void>;
}

function describe(path: string, headers: http.IncomingHttpHeaders, body: string) {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    parsed = Object.fromEntries(new URLSearchParams(body));
  }
  const biz = (parsed.bizContent ?? {}) as Record<string, unknown>;
  const pick = (...values: unknown[]) => values.find((v): v is string => typeof v === 'string' && v !== '');
  const headerSign = headers.sign;
  return {
    sign: pick(typeof headerSign === 'string' ? headerSign : undefined, parsed.sign),
    ref: pick(biz.merchantOrderNo, biz.orderNo, parsed.cancelOrderId, parsed.payOrderId, parsed.mchOrderNo),
    path,
  };
}

export async function startProviderProxy(target: string, options: { port?: number } = {}) {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const journal: JournalEntry[] = [];
  const held = new Set<http.ServerResponse>();
  let stalled = false;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const d = describe(req.url ?? '', req.headers, raw.toString('utf8'));
      if (stalled) {
        journal.push({ at: Date.now(), ...d, fate: 'stalled' });
        held.add(res);
        res.once('close', () => held.delete(res));
        return;
      }
      const entry: JournalEntry = { at: Date.now(), ...d, fate: 'forwarded' };
      journal.push(entry);
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
          agent,
        },
        (answer) => {
          entry.status = answer.statusCode;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.once('error', () => res.destroy());
          answer.once('aborted', () => res.destroy());
        },
      );
      // The sandbox dropped the connection (a lost answer, a reset): so do we.
      out.once('error', () => res.destroy());
      // The caller gave up (its timeout): stop waiting for the sandbox.
      res.once('close', () => {
        if (!res.writableFinished) out.destroy();
      });
      out.end(raw);
    });
  });
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const proxy: ProviderProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    journal,
    get stalled() {
      return stalled;
    },
    stall(on) {
      stalled = on;
      if (!on) {
        for (const res of held) res.destroy();
        held.clear();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return proxy;
}
