/**
 * Open-loop load: requests sent at a fixed rate, whatever the answers do, as merchants send them.
 * A closed loop at a fixed concurrency (stats.ts `pool`) measures a saturated box, where latency is
 * concurrency ÷ throughput (Little's law); an open loop below capacity measures what one request
 * waits at that load. Latency runs from when the request was due, not from when it was sent: a
 * generator that falls behind must not hide the wait (coordinated omission).
 */
export async function openLoop<T>(
  count: number,
  perSecond: number,
  task: (i: number, due: number) => Promise<T>,
): Promise<T[]> {
  const interval = 1000 / perSecond;
  const start = performance.now();
  const running: Promise<T>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + i * interval;
    // Node's timers run on the event loop's cached millisecond clock and can fire up to a
    // millisecond or so before performance.now() reaches the due time: wait again until it has.
    for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) {
      await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    }
    running.push(task(i, due));
  }
  return Promise.all(running);
}
