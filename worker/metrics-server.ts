import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from '../common/metrics';

/**
 * The worker's `/metrics`: cancelflow's own metrics plus the Temporal SDK's (its Rust core serves
 * them on `sdkMetricsUrl`; they are appended so one scrape target has everything).
 */
export async function startMetricsServer(options: {
  port: number;
  host?: string;
  sdkMetricsUrl?: string;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      let sdk = '';
      if (options.sdkMetricsUrl) {
        try {
          const answer = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(1_000) });
          sdk = await answer.text();
        } catch {
          sdk = '# Temporal SDK metrics unavailable\n';
        }
      }
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(`${await registry.metrics()}\n${sdk}`);
    })();
  });
  // Loopback unless told: the metrics name accounts, providers and volumes.
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const reachable = address === '0.0.0.0' || address === '::' ? '127.0.0.1' : address;
  return {
    url: `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
