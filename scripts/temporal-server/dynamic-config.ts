/**
 * Dynamic config the dev server is started with (what `start-dev` does not turn on by itself).
 * Eager activity dispatch: an activity scheduled by a workflow task comes back to the worker in the
 * answer to that task's completion when the worker has a slot, instead of through a poll of the
 * task queue; the SDK asks for it by default, the server ignores the request unless this is on.
 * The production engine's dynamic config (config.ts) includes it. No imports here: scripts/temporal.ts
 * and config.ts both use this file, and config.ts's imports lead back to scripts/temporal.ts.
 */
export const DEV_SERVER_DYNAMIC_CONFIG = { 'system.enableActivityEagerExecution': true } as const;

/** DEV_SERVER_DYNAMIC_CONFIG as `temporal server start-dev` arguments. */
export const devServerDynamicConfigArgs = (): string[] =>
  Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
