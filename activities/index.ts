import type { ActivityDeps } from './deps';
import { createSelfCheckActivities } from './self-check';

export type { ActivityDeps };

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSelfCheckActivities(deps),
  };
}
