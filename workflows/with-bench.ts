/**
 * The production workflows plus the benchmark's (`npm run bench`): the worker bundles this only
 * when `CANCELFLOW_BENCH_WORKFLOWS=1`; production bundles `./index` and registers no bench code.
 */
export * from './index';
export { ceilingWorkflow, unitActivityWorkflow, unitLocalActivityWorkflow } from './bench';
