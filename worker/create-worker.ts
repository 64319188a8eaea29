import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { reconcileTaskQueue } from '../contract/reconciliation';

/**
 * Worker sizing for a 2-core machine: the workflow cache is bounded (each cached run costs
 * memory, a miss costs a history replay); activities are I/O-bound (HTTP, Postgres), so many
 * may run at once. SIGTERM/SIGINT start a graceful shutdown that lets running activities finish
 * within `shutdownGraceTime`.
 */
export const WORKER_DEFAULTS = {
  maxCachedWorkflows: 2_000,
  maxConcurrentWorkflowTaskExecutions: 40,
  maxConcurrentActivityTaskExecutions: 200,
  shutdownGraceTime: '30 seconds',
  // Measured on this 2-core box (issue 17): autoscaling pollers +20 % at 100 in flight.
  workflowTaskPollerBehavior: { type: 'autoscaling' },
  activityTaskPollerBehavior: { type: 'autoscaling' },
} as const satisfies Partial<WorkerOptions>;

/** The config file's `worker` section as worker options: only what it sets replaces WORKER_DEFAULTS. */
export function workerOverrides(section: {
  maxCachedWorkflows?: number | undefined;
  maxConcurrentWorkflowTaskExecutions?: number | undefined;
  maxConcurrentActivityTaskExecutions?: number | undefined;
  maxConcurrentLocalActivityExecutions?: number | undefined;
  maxEagerActivityReservationsPerWorkflowTask?: number | undefined;
  pollers?: 'autoscaling' | number | undefined;
}): Partial<WorkerOptions> {
  const { pollers, ...plain } = section;
  const behavior =
    pollers === undefined
      ? undefined
      : pollers === 'autoscaling'
        ? ({ type: 'autoscaling' } as const)
        : ({ type: 'simple-maximum', maximum: pollers } as const);
  return {
    ...Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined)),
    ...(behavior ? { workflowTaskPollerBehavior: behavior, activityTaskPollerBehavior: behavior } : {}),
  };
}

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (`npm run bundle`, or the tests' one per run); otherwise bundled now. */
  workflowBundle?: { code: string } | { codePath: string };
  /** Bundle the benchmark's workflows too (`npm run bench` sets CANCELFLOW_BENCH_WORKFLOWS=1). */
  benchWorkflows?: boolean;
  overrides?: Partial<WorkerOptions>;
}

export function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : {
          workflowsPath: require.resolve(options.benchWorkflows ? '../workflows/with-bench' : '../workflows'),
        }),
    activities: createActivities(options.deps),
    ...WORKER_DEFAULTS,
    ...options.overrides,
  });
}

/**
 * One activity-only worker per provider account for reconciliation pages, so a slow provider
 * holds only its own slots. The pace towards the provider is not set here: each page leases its
 * requests from the account's shared rate limit in Postgres (common/rate-limit.ts), which holds
 * across every worker process.
 */
export function createReconcileWorkers(
  options: Omit<CreateWorkerOptions, 'workflowBundle' | 'benchWorkflows'>,
): Promise<Worker[]> {
  const activities = createActivities(options.deps);
  return Promise.all(
    options.deps.config.accounts.map((account) =>
      Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: reconcileTaskQueue(options.taskQueue, account.id),
        activities,
        maxConcurrentActivityTaskExecutions: 8,
        shutdownGraceTime: WORKER_DEFAULTS.shutdownGraceTime,
        ...options.overrides,
      }),
    ),
  );
}
