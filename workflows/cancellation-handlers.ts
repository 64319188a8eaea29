/**
 * What a cancellation run answers while it runs (workflows/cancellation.ts): the `status` query,
 * the provider's `providerOutcome` signal and the merchant's `accept` update.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  patched,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { CancellationRun } from './cancellation-run';
import { ACCEPT_WAIT_PATCH, MAX_INBOX } from './cancellation-rules';
import { acceptUpdate, providerOutcomeSignal, statusQuery, statusUpdate } from './definitions';

export function installHandlers(run: CancellationRun): void {
  // Where the run stands: "created" as the accept update would say, as long as no other request
  // attached (then it cannot tell whose request created it). Asked as an update by client/start.ts
  // after the merchant's wait ran out (see statusUpdate); as a query by ops (`cancelflow status`).
  const status = () => ({ ...run.view(), created: run.created && run.accepts <= 1 });
  setHandler(statusQuery, status);
  setHandler(statusUpdate, status);
  // A signal carries no outcome: it wakes the run, which finds out for itself.
  setHandler(providerOutcomeSignal, (signal) => {
    if (
      run.inbox.length < MAX_INBOX &&
      !run.inbox.some((s) => s.source === signal.source && s.reference === signal.reference)
    )
      run.inbox.push(signal);
  });
  setHandler(acceptUpdate, async ({ waitMs }) => {
    const first = run.accepts++ === 0;
    const summary = "answer the merchant: wait for the provider's first answer";
    if (run.lean) {
      // No timer: the caller's own deadline bounds its wait (client/start.ts asks where the run
      // stands when it passes). Only the main code ends this wait, so the order of commands never
      // depends on how a timer and a local activity's result are delivered.
      await condition(() => run.answered);
    } else if (patched(ACCEPT_WAIT_PATCH)) {
      // The wait's timer only marks it run out; the answer is given by a condition on this run's
      // state, never while a local activity of the main code is in flight. A local activity's
      // result is no history event: on replay it can come back in the same activation as the
      // timer, and the main code would run before this handler; answering only between local
      // activities gives the same order of commands however the two are delivered.
      let waitedOut = false;
      await CancellationScope.cancellable(async () => {
        try {
          void sleep(Math.max(1, waitMs), { summary }).then(
            () => {
              waitedOut = true;
            },
            () => undefined, // cancelled: answered first
          );
          await condition(() => run.answered || (waitedOut && run.localInFlight === 0));
        } finally {
          CancellationScope.current().cancel();
        }
      });
    } else {
      await condition(() => run.answered, Math.max(1, waitMs), { summary });
    }
    if (!run.snapshot.cancelOrderId)
      throw ApplicationFailure.retryable(
        'the cancellation is accepted but not recorded yet: send the same request again',
        'NOT_RECORDED',
      );
    return { ...run.view(), created: run.created && first };
  });
}
