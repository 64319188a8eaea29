/** Dynamic config of the dev server (scripts/temporal.ts); no imports, so both servers' code can use it. */

/**
 * Dynamic config the dev server is started with (what `start-dev` does not turn on by itself).
 * Eager activity dispatch: an activity scheduled by a workflow task comes back to the worker in the
 * answer to that task's completion when the worker has a slot, instead of through a poll of the
 * task queue; the SDK asks for it by default, the server ignores the request unless this is on.
 * The production engine's DYNAMIC_CONFIG (config.ts) sets the same.
 */
export const DEV_SERVER_DYNAMIC_CONFIG = { 'system.enableActivityEagerExecution': true } as const;

/** DEV_SERVER_DYNAMIC_CONFIG as `temporal server start-dev` arguments. */
export const devServerDynamicConfigArgs = (): string[] =>
  Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
