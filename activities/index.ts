import type { ActivityDeps } from './deps';
import { createCallbackActivities } from './callbacks';
import { createCancellationActivities } from './cancellation';
import { createFollowUpActivities } from './follow-up';
import { createNotificationActivities } from './notification';
import { createReconciliationActivities } from './reconciliation';
import { createSelfCheckActivities } from './self-check';
import { createSettleActivities } from './settle';

export type { ActivityDeps };
export type { CancelOutcome } from '../providers/types';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSelfCheckActivities(deps),
    ...createCancellationActivities(deps),
    ...createCallbackActivities(deps),
    ...createFollowUpActivities(deps),
    ...createNotificationActivities(deps),
    ...createReconciliationActivities(deps),
    ...createSettleActivities(deps),
    /** Does nothing: the platform-ceiling workflow of `npm run bench`. */
    async benchNoop(id: string): Promise<string> {
      return id;
    },
  };
}
