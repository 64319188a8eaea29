/** Running N timed tasks at a concurrency, and summarising their latencies into a row of the table. */

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

export interface Run {
  label: string;
  concurrency: number;
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Count and p50/p95/p99 of latencies (ms, rounded): a row's latencies without a rate. */
export function percentiles(latencies: number[]): { count: number; p50: number; p95: number; p99: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    count: latencies.length,
    p50: Math.round(percentile(sorted, 50)),
    p95: Math.round(percentile(sorted, 95)),
    p99: Math.round(percentile(sorted, 99)),
  };
}

export function summarise(
  label: string,
  concurrency: number,
  started: number,
  latencies: number[],
  ended = performance.now(),
): Run {
  const seconds = (ended - started) / 1000;
  return {
    label,
    concurrency,
    seconds: Number(seconds.toFixed(1)),
    perSecond: Number((latencies.length / seconds).toFixed(1)),
    ...percentiles(latencies),
  };
}
