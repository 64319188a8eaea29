import { z } from 'zod';
import { httpUrl } from '../../providers/options';
import { DEV_PG_PORT } from '../dev-stack';

/** The environment variables of the configuration contract, with their defaults. */
export const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL')
    .optional(),
  /** The dev stack's Postgres port: one-off commands use it when DATABASE_URL is unset. */
  CANCELFLOW_PG_PORT: z.coerce.number().int().min(1).max(65535).default(DEV_PG_PORT),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port')
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z.enum(['true', 'false']).default('false'),
  CANCELFLOW_TASK_QUEUE: z.string().min(1).default('cancellations'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Loopback unless told: `0.0.0.0` (or an interface address) exposes the API. */
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_BASE_URL: httpUrl.optional(),
  CANCELFLOW_CONFIG: z.string().min(1).default('./cancelflow.config.json'),
  /** The worker's /metrics address and port (0 = off), and the Temporal SDK exporter's loopback port. */
  CANCELFLOW_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  CANCELFLOW_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  CANCELFLOW_SDK_METRICS_PORT: z.coerce.number().int().min(1).max(65535).default(9465),
  /** Bearer token for the /ops endpoints; unset: they refuse everyone unless `api.opsOpen`. */
  CANCELFLOW_OPS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** `1`: the worker bundles the benchmark's workflows too (set by `npm run bench` only). */
  CANCELFLOW_BENCH_WORKFLOWS: z.enum(['0', '1']).default('0'),
  /**
   * A workflow bundle built ahead (`npm run bundle`): the worker loads it instead of bundling the
   * workflows with webpack at start (tens of seconds on a small machine, per process).
   */
  CANCELFLOW_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /** no-color.org: present and not empty, the CLI prints its tables without colour. */
  NO_COLOR: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type EnvValues = z.output<typeof envSchema>;
