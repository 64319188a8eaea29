import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';

/**
 * A rate limit shared by every process that talks to one provider account, kept in Postgres.
 *
 * Time is cut into slots of `slotMs`, each holding `capacity` requests (the account's rate ×
 * slot length). A process leases as many requests from the current slot as it has callers
 * waiting, in one upsert that never lets a slot's total exceed its capacity, and releases them
 * spread evenly over the slot (request i of a slot at start + i × slotMs ÷ capacity), so the
 * provider sees a steady pace rather than a burst at each slot start. Requests not leased in
 * their slot are gone, as with any window limiter; nothing is borrowed from the future.
 *
 * Slots are numbered from each process's own clock: processes whose clocks disagree by d ms may
 * together exceed the rate by about d ÷ slotMs slots' worth at the boundaries (NTP keeps d small).
 */
export interface RateLimiter {
  /** Resolves when one request may be sent; rejects if `signal` aborts first or the lease fails. */
  acquire(signal?: AbortSignal): Promise<void>;
  readonly slotMs: number;
  readonly capacity: number;
}

/** Slots of at least 100 ms holding a whole number of requests, as close to `ratePerSecond` as that allows from below. */
export function slotPlan(ratePerSecond: number): { slotMs: number; capacity: number } {
  if (!(ratePerSecond > 0)) throw new RangeError(`rate must be positive, got ${ratePerSecond}`);
  const capacity = Math.max(1, Math.round(ratePerSecond / 10));
  return { slotMs: Math.ceil((1000 * capacity) / ratePerSecond), capacity };
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Why `signal` aborted, as an Error. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(typeof reason === 'string' ? reason : 'aborted');
}

export function createRateLimiter(options: {
  db: Knex;
  key: string;
  ratePerSecond: number;
  now?: () => number;
}): RateLimiter {
  const { db, key } = options;
  const now = options.now ?? Date.now;
  const { slotMs, capacity } = slotPlan(options.ratePerSecond);
  const waiters: Waiter[] = [];
  let pumping = false;
  let lastCleanup = 0;

  /**
   * Takes up to `want` requests from `slot`, at positions `floor` and up (positions before it are
   * past and are skipped, for everyone); answers how many were granted and the first position.
   */
  const lease = async (
    slot: number,
    want: number,
    floor: number,
  ): Promise<{ before: number; granted: number }> => {
    // In the update, `start` is greatest(s.used, floor) and the new total least(start + want, cap);
    // the right-hand sides all read the row as it was.
    const start = 'greatest(s.used, cast(:floor as integer))';
    const total = `least(${start} + cast(:want as integer), cast(:cap as integer))`;
    const result: { rows: Array<{ used: number; granted: number }> } = await db.raw(
      `with arg as (select cast(:want as integer) as want, cast(:cap as integer) as cap,
                           cast(:floor as integer) as floor),
            fresh as (select least(floor + want, cap) as used,
                             greatest(least(floor + want, cap) - floor, 0) as granted from arg)
         insert into provider_rate_slots as s (account_id, slot, used, granted, sent)
         select :key, :slot, used, granted, granted from fresh
         on conflict (account_id, slot) do update
           set used = ${total}, granted = ${total} - ${start}, sent = s.sent + ${total} - ${start}
           where s.used < cast(:cap as integer)
         returning used, granted`,
      { key, slot, want, cap: capacity, floor },
    );
    const row = result.rows[0];
    if (!row) return { before: capacity, granted: 0 };
    return { before: row.used - row.granted, granted: row.granted };
  };

  const cleanup = async (slot: number) => {
    if (now() - lastCleanup < 10_000) return;
    lastCleanup = now();
    await db('provider_rate_slots')
      .where({ account_id: key })
      .where('slot', '<', slot - Math.ceil(60_000 / slotMs))
      .delete();
  };

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (waiters.length > 0) {
        const at = now();
        const slot = Math.floor(at / slotMs);
        const start = slot * slotMs;
        // Positions more than one step in the past are skipped: releasing them now would put
        // several requests in one instant, a burst a provider's bucket refuses (a process that
        // starts late in a slot would otherwise release the whole slot at once).
        const floor = Math.max(0, Math.ceil(((at - start) * capacity) / slotMs) - 1);
        const { before, granted } = await lease(slot, Math.min(capacity, waiters.length), floor);
        for (let k = 0; k < granted && waiters.length > 0; k++) {
          const due = start + ((before + k) * slotMs) / capacity;
          if (due > now()) await sleep(due - now());
          const w = waiters.shift();
          if (!w) break;
          if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
          w.resolve();
        }
        // The slot is spent (by us or by others): wait for the next one.
        if (before + granted >= capacity || granted === 0) {
          await cleanup(slot);
          await sleep(Math.max(0, (slot + 1) * slotMs - now()));
        }
      }
    } catch (err) {
      for (const w of waiters.splice(0)) w.reject(err);
    } finally {
      pumping = false;
    }
  };

  return {
    slotMs,
    capacity,
    acquire(signal?: AbortSignal) {
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
        if (signal) {
          waiter.onAbort = () => {
            const i = waiters.indexOf(waiter);
            if (i >= 0) waiters.splice(i, 1);
            reject(abortReason(signal));
          };
          signal.addEventListener('abort', waiter.onAbort, { once: true });
        }
        waiters.push(waiter);
        void pump();
      });
    },
  };
}
