import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A merchant's notification endpoint: records every delivery attempt it sees (arrival time, the
 * `X-Notification-Id` header, the exact body bytes, the parsed form, what it answered) and answers
 * `success`, or, while told to refuse, HTTP 503 (a failed attempt for the sender). Listens on a
 * fixed port once started, so it can be told to refuse without moving.
 */

export interface ReceivedNotification {
  at: number;
  notificationId: string | undefined;
  body: string;
  params: Record<string, string>;
  /** 'success' or 'refused' */
  answered: 'success' | 'refused';
}

export interface Receiver {
  url: string;
  log: ReceivedNotification[];
  /** Parsed forms of every attempt (the log's params), in arrival order. */
  readonly received: Array<Record<string, string>>;
  /** Answer 503 until `refuse(false)`. */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

export function startReceiver(options: { port?: number } = {}): Promise<Receiver> {
  const log: ReceivedNotification[] = [];
  let refusing = false;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = req.headers['x-notification-id'];
      const answered = refusing ? 'refused' : 'success';
      log.push({
        at: Date.now(),
        notificationId: typeof header === 'string' ? header : undefined,
        body,
        params: Object.fromEntries(new URLSearchParams(body)),
        answered,
      });
      if (answered === 'refused') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('busy');
      } else res.end('success');
    });
  });
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve) =>
    server.listen(options.port ?? 0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
        log,
        get received() {
          return log.map((n) => n.params);
        },
        refuse: (on) => {
          refusing = on;
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    ),
  );
}
