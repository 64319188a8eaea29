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
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve) => server.listen(options.port, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
