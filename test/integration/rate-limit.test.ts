import { createRateLimiter, slotPlan } from '../../common/rate-limit';
import { tokenBucket } from '../../sandbox/http';
import { createTestDatabase, type TestDatabase } from '../helpers/stack';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

describe('slot plan', () => {
  test.each([
    [500, 100, 50],
    [20, 100, 2],
    [15, 134, 2],
    [3, 334, 1],
    [0.5, 2_000, 1],
  ])('%d requests/s → slots of %d ms holding %d', (rate, slotMs, capacity) => {
    const plan = slotPlan(rate);
    expect(plan).toEqual({ slotMs, capacity });
    // Never faster than the rate.
    expect((plan.capacity * 1000) / plan.slotMs).toBeLessThanOrEqual(rate);
  });

  test('a rate that is not positive is refused', () => {
    expect(() => slotPlan(0)).toThrow('rate must be positive, got 0');
    expect(() => slotPlan(Number.NaN)).toThrow(RangeError);
  });
});

describe('the shared rate limit in Postgres', () => {
  test('two processes sharing an account at 50/s: no slot overfills and a provider bucket of 50/s refuses nothing', async () => {
    const rate = 50;
    const key = 'acct-shared';
    // Two limiters on one database stand for two worker processes.
    const a = createRateLimiter({ db: database.db, key, ratePerSecond: rate });
    const b = createRateLimiter({ db: database.db, key, ratePerSecond: rate });
    const provider = tokenBucket(rate);
    const grants: number[] = [];
    let refused = 0;
    const take = async (limiter: typeof a) => {
      await limiter.acquire();
      grants.push(performance.now());
      if (!provider.take()) refused += 1;
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => take(i % 2 === 0 ? a : b)));
    const elapsed = performance.now() - started;

    const slots = await database
      .db('provider_rate_slots')
      .where({ account_id: key })
      .select('slot', 'used', 'sent');
    expect(slots.reduce((sum, s) => sum + Number(s.sent), 0)).toBe(200);
    expect(Math.max(...slots.map((s) => Number(s.used)))).toBeLessThanOrEqual(a.capacity);
    // 200 requests at 5 per 100 ms slot need at least 39 slot boundaries.
    expect(elapsed).toBeGreaterThanOrEqual(3_800);
    // In any one second, at most the rate plus one slot's worth (a window straddles two slots).
    grants.sort((x, y) => x - y);
    let most = 0;
    for (let i = 0, j = 0; i < grants.length; i++) {
      while (grants[i]! - grants[j]! >= 1_000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(most).toBeLessThanOrEqual(rate + a.capacity);
    expect(refused).toBe(0);
  }, 30_000);

  test('a process that starts late in a slot does not release the slot at once: the provider sees no burst', async () => {
    const rate = 50; // slots of 100 ms holding 5, one every 20 ms
    for (const phase of [70, 90, 98]) {
      const key = `acct-late-${phase}`;
      const limiter = createRateLimiter({ db: database.db, key, ratePerSecond: rate });
      // Wait until the clock is `phase` ms into a slot: positions 0..3 (or 4) are past.
      while (Date.now() % limiter.slotMs !== phase) await new Promise((r) => setImmediate(r));
      const provider = tokenBucket(rate);
      const released: number[] = [];
      let refused = 0;
      await Promise.all(
        Array.from({ length: 12 }, async () => {
          await limiter.acquire();
          released.push(performance.now());
          if (!provider.take()) refused += 1;
        }),
      );
      expect(refused).toBe(0);
      // Never more than two releases in one step's worth of time (one late, one on time).
      released.sort((x, y) => x - y);
      for (let i = 2; i < released.length; i++) expect(released[i]! - released[i - 2]!).toBeGreaterThan(5);
      const sent = await database.db('provider_rate_slots').where({ account_id: key }).sum({ n: 'sent' });
      expect(Number(sent[0]?.n)).toBe(12);
    }
  }, 30_000);

  test('a waiter whose signal aborts is dropped and rejected; the others are still served', async () => {
    const limiter = createRateLimiter({ db: database.db, key: 'acct-abort', ratePerSecond: 2 });
    const controller = new AbortController();
    const first = limiter.acquire();
    const aborted = limiter.acquire(controller.signal);
    controller.abort(new Error('page cancelled'));
    await expect(aborted).rejects.toThrow('page cancelled');
    await expect(first).resolves.toBeUndefined();
    await expect(limiter.acquire(AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
    const used = await database
      .db('provider_rate_slots')
      .where({ account_id: 'acct-abort' })
      .sum({ n: 'sent' });
    expect(Number(used[0]?.n)).toBe(1);
  });

  test('a lease that fails rejects the waiters with the database error', async () => {
    const other = await createTestDatabase();
    const limiter = createRateLimiter({ db: other.db, key: 'acct-down', ratePerSecond: 10 });
    await other.db.schema.dropTable('provider_rate_slots');
    await expect(limiter.acquire()).rejects.toThrow(/provider_rate_slots/);
    await other.drop();
  });
});
