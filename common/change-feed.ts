import pg from 'pg';
import type { Logger } from './logger';

/** The channel `applyTransition` notifies, with the cancelOrderId, when a cancellation changes. */
export const CHANGE_CHANNEL = 'cancellation_changed';

export interface ChangeFeed {
  /** True while LISTEN is in place: only then may a changing answer be kept. */
  readonly live: boolean;
  close(): Promise<void>;
}

/**
 * Postgres LISTEN on the cancellations' change channel: `onChange(id)` for every committed
 * transition. When the connection drops, `onReset()` (forget everything kept) and reconnect with
 * backoff; `live` is false until LISTEN is in place again, so nothing is kept blind, and
 * `onReset()` again once it is (a read begun while it was not may predate a change it missed).
 */
export function listenForChanges(
  databaseUrl: string,
  onChange: (cancelOrderId: string) => void,
  onReset: () => void,
  logger?: Pick<Logger, 'warn'>,
): ChangeFeed {
  let client: pg.Client | undefined;
  let live = false;
  let closed = false;
  let retryMs = 500;
  let timer: NodeJS.Timeout | undefined;

  // A client's loss is reported more than once (pg emits 'error' and rejects the query in flight,
  // e.g. the LISTEN): only the first report about the current client reconnects, or each would
  // start its own reconnect loop and leave a client behind.
  const drop = (lostClient: pg.Client, err?: unknown) => {
    if (client !== lostClient) return;
    if (live) onReset();
    live = false;
    const old = client;
    client = undefined;
    old?.end().catch(() => {});
    if (closed) return;
    if (err)
      logger?.warn({ err }, 'change feed lost: pending answers are read from Postgres until it is back');
    timer = setTimeout(connect, retryMs);
    timer.unref();
    retryMs = Math.min(retryMs * 2, 30_000);
  };

  const connect = () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: databaseUrl });
    client = c;
    const lost = (err?: unknown) => drop(c, err);
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL && n.payload) onChange(n.payload);
    });
    c.connect()
      .then(() => c.query(`LISTEN ${CHANGE_CHANNEL}`))
      .then(() => {
        if (client !== c || closed) return;
        live = true;
        retryMs = 500;
        // Back (or first) in place: what was read while it was not may predate a change it missed.
        onReset();
      })
      .catch(lost);
  };
  connect();

  return {
    get live() {
      return live;
    },
    close: async () => {
      closed = true;
      live = false;
      clearTimeout(timer);
      await client?.end().catch(() => {});
    },
  };
}
