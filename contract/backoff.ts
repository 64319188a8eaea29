/**
 * The wait before the next question to a provider: `initialMs` × `multiplier`^round, capped at
 * `maxMs` and at the time left before the deadline (never negative). Pure, so the workflow and its
 * tests agree on it; rounds past 30 stop growing (no overflow to Infinity).
 */
export function pollDelayMs(
  timings: { pollInitialMs: number; pollMaxMs: number; pollMultiplier: number },
  round: number,
  msLeft: number,
): number {
  return Math.max(
    0,
    Math.min(
      timings.pollMaxMs,
      timings.pollInitialMs * timings.pollMultiplier ** Math.min(round, 30),
      msLeft,
    ),
  );
}
