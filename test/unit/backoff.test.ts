import fc from 'fast-check';
import { pollDelayMs } from '../../contract/backoff';

const timings = { pollInitialMs: 2_000, pollMaxMs: 300_000, pollMultiplier: 2 };

test('doubles from the first wait, capped at the maximum and at the deadline', () => {
  expect([0, 1, 2, 3].map((r) => pollDelayMs(timings, r, 1e9))).toEqual([2_000, 4_000, 8_000, 16_000]);
  expect(pollDelayMs(timings, 12, 1e9)).toBe(300_000);
  expect(pollDelayMs(timings, 3, 5_000)).toBe(5_000);
  expect(pollDelayMs(timings, 3, -10)).toBe(0);
});

test('for any round and time left: finite, never negative, never above the cap or the time left', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1_000_000 }),
      fc.integer({ min: -1e9, max: 1e12 }),
      fc.integer({ min: 1, max: 60_000 }),
      fc.integer({ min: 1, max: 3_600_000 }),
      fc.double({ min: 1, max: 10, noNaN: true }),
      (round, left, initial, max, multiplier) => {
        const d = pollDelayMs(
          { pollInitialMs: initial, pollMaxMs: max, pollMultiplier: multiplier },
          round,
          left,
        );
        expect(Number.isFinite(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(max);
        expect(d).toBeLessThanOrEqual(Math.max(0, left));
      },
    ),
  );
});
