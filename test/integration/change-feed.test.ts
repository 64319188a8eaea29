import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHANGE_CHANNEL, listenForChanges } from '../../common/change-feed';
import { createTestDatabase, type TestDatabase } from '../helpers/stack';
import { eventually } from '../helpers/world';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.drop();
});

/**
 * A TCP proxy to Postgres that cuts the first `cuts` connections the moment they send their
 * LISTEN: the client's query is in flight when its connection ends, so pg reports the loss twice
 * (an 'error' event and the query's rejection).
 */
async function cuttingProxy(target: URL, cuts: number) {
  let left = cuts;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    inbound.on('data', (chunk: Buffer) => {
      if (left > 0 && chunk.includes(`LISTEN ${CHANGE_CHANNEL}`)) {
        left -= 1;
        inbound.destroy();
        outbound.destroy();
        return;
      }
      outbound.write(chunk);
    });
    outbound.on('data', (chunk: Buffer) => inbound.write(chunk));
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.toString());
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    cutsLeft: () => left,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a connection lost while its LISTEN is in flight reconnects once: one listener, live, each change seen once', async () => {
  const proxy = await cuttingProxy(new URL(database.url), 3);
  const changes: string[] = [];
  let resets = 0;
  const feed = listenForChanges(
    proxy.url,
    (id) => changes.push(id),
    () => (resets += 1),
  );
  try {
    await eventually(async () => feed.live, 30_000);
    expect(proxy.cutsLeft()).toBe(0);
    // Every reconnect timer a second loop could have left (500 ms doubling, three cuts) has fired.
    await sleep(5_000);
    const listeners = await database
      .db('pg_stat_activity')
      .where({ datname: database.name })
      .where('query', 'like', 'LISTEN%')
      .count<{ count: string }[]>('* as count');
    expect(Number(listeners[0]!.count)).toBe(1);
    await database.db.raw('select pg_notify(?, ?)', [CHANGE_CHANNEL, 'C-FEED-1']);
    await eventually(async () => changes.length > 0);
    await sleep(200);
    expect(changes).toEqual(['C-FEED-1']);
    expect(feed.live).toBe(true);
    // Never live before the fourth connection: one reset, when LISTEN was in place (what the API
    // read meanwhile may predate a change nobody heard).
    expect(resets).toBe(1);
  } finally {
    await feed.close();
    await proxy.close();
  }
});
