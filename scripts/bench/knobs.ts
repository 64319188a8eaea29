/** The bench's knobs (BENCH_* environment variables) and its progress log. */

export const env = process.env;
export const N = Number(env.BENCH_N ?? 2_000);
export const LEVELS = (env.BENCH_LEVELS ?? '20,100').split(',').map(Number);
export const RECON_ROWS = Number(env.BENCH_RECON_ROWS ?? 100_000);
/** Requests/s; "max" = no limit (what this machine can do at all). One pass, on its own account, per rate. */
export const RECON_RATES = (env.BENCH_RECON_RATE ?? '500')
  .split(',')
  .map((r) => (r === 'max' ? Infinity : Number(r)));
export const reconAccount = (rate: number) => `payby-recon-${Number.isFinite(rate) ? rate : 'max'}`;
export const API_SECONDS = Number(env.BENCH_API_SECONDS ?? 8);
export const API_CONCURRENCY = Number(env.BENCH_API_CONCURRENCY ?? 50);
/** Each northbound route is first run this long, unmeasured (JIT, caches, the e2e pass's tail). */
export const API_WARMUP_SECONDS = Number(env.BENCH_API_WARMUP_SECONDS ?? 2);
/** The open-loop pass's rate, as a share of the cancellations/s the first level reached (0: none). */
export const OPEN_LOAD = Number(env.BENCH_OPEN_LOAD ?? 0.5);
export const PARTS = new Set((env.BENCH_PARTS ?? 'e2e,api,recon').split(','));
export const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
