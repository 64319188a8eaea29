import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { CancellationInput, CancellationSnapshot } from '../contract/cancellation';
import { ANSWER_SCOPE, decide, type AnswerSource } from '../contract/decision';
import { pollDelayMs } from '../contract/backoff';
import type { CancelOutcome } from '../providers/types';
import { localPersistence, persistence, providerQuery, providerSubmit } from './activity-options';
import { finish } from './cancellation-finish';
import { installHandlers } from './cancellation-handlers';
import { CancellationRun } from './cancellation-run';
import {
  factsOf,
  notSentAsRecorded,
  SettledElsewhere,
  UNFROZEN_HISTORY_LIMIT,
  unknownAfter,
} from './cancellation-rules';
import { forwardRepeatNews } from './repeat-news';
import { CancelOrderId, CancelState } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;
const { recordCancellation } = proxyLocalActivities<Activities>(localPersistence);
const { verifiedCallbackOutcome } = proxyActivities<Activities>(persistence);
const { submitCancel } = proxyActivities<Activities>(providerSubmit);
const { queryCancel } = proxyActivities<Activities>(providerQuery);

/**
 * One cancellation, start to finish (ARCHITECTURE.md): record (the id comes from Postgres; an order
 * that already has a cancellation is answered from its row) → mark it sent (seed state 1) → submit
 * → classify → decide (contract/decision.ts) → poll with capped exponential backoff, woken early by
 * a verified provider callback → fill in the order's facts the deciding answer lacked → persist the
 * terminal state → start the notification delivery → return the final snapshot.
 *
 * The merchant's answer is the `accept` update, given as soon as the first provider answer is
 * classified and persisted. A cancel whose answer is unknown is never resubmitted blindly, and a
 * refusal of a repeated cancel after an unknown outcome is never taken as the verdict.
 *
 * The run's state and transitions: workflows/cancellation-run.ts; its query, signal and update:
 * cancellation-handlers.ts; how it ends: cancellation-finish.ts; its fixed rules: cancellation-rules.ts.
 */
export async function cancellationWorkflow(input: CancellationInput): Promise<CancellationSnapshot> {
  const run = new CancellationRun(input);
  const { snapshot, timings, deadlineAt, inbox } = run;
  installHandlers(run);

  if (!input.resume) {
    const ended = await recordOrAnswer(run);
    if (ended) return ended;
  }

  try {
    for (;;) {
      let outcome: CancelOutcome;
      let from: AnswerSource;
      const signalled = inbox.shift();
      if (signalled?.source === 'callback') {
        // A stored provider callback: re-read and re-verified from its raw body.
        const { reference } = signalled;
        from = 'signal';
        outcome = await verifiedCallbackOutcome({
          callbackId: reference,
          cancelOrderId: snapshot.cancelOrderId,
        }).catch(unknownAfter('callback verification'));
        log.info('provider callback verified', { reference, kind: outcome.kind });
      } else if (signalled?.source === 'reconciliation') {
        // Reconciliation saw a final answer: ask the provider now rather than trust the message.
        from = 'query';
        snapshot.queries += 1;
        outcome = await queryCancel(run.target()).catch(unknownAfter('query'));
      } else if (run.decision.nextOp === 'submit') {
        from = 'submit';
        // Seed state 1 from the moment the cancel may reach the provider, written before it is sent.
        if (snapshot.status === 'RECEIVED') await run.transition('SUBMITTED', 1, {});
        snapshot.submits += 1;
        outcome = await submitCancel
          .executeWithOptions(
            { summary: `send the signed cancel to ${run.providerName} (cancel #${snapshot.submits})` },
            [
              {
                ...run.target(),
                ...(input.clientIp ? { clientIp: input.clientIp } : {}),
                ...(input.channelExtra ? { channelExtra: input.channelExtra } : {}),
                ...(input.extParam ? { extParam: input.extParam } : {}),
              },
            ],
          )
          .catch(unknownAfter('submit'));
      } else {
        from = 'query';
        snapshot.queries += 1;
        outcome = await queryCancel
          .executeWithOptions({ summary: `ask ${run.providerName} (${run.queryName}), round ${run.round}` }, [
            run.target(),
          ])
          .catch(unknownAfter('query'));
      }

      const next = decide(run.decision, from, notSentAsRecorded(outcome), ANSWER_SCOPE[input.provider]);
      if (next.action === 'finish') return await finish(run, next.outcome);
      run.decision = next.state;
      if (next.note) log.info('answer did not decide the cancellation', { from, note: next.note });
      if (next.pending) {
        const learnedId =
          next.pending.providerCancelId && next.pending.providerCancelId !== snapshot.providerCancelId
            ? next.pending.providerCancelId
            : undefined;
        if (learnedId) snapshot.providerCancelId = learnedId;
        const facts = factsOf(next.pending);
        if (
          (snapshot.status !== 'PENDING' && snapshot.status !== 'UNRESOLVED') ||
          learnedId ||
          (facts.payOrderId && facts.payOrderId !== (snapshot.payOrderId ?? input.order.payOrderId))
        )
          await run.transition(
            snapshot.status === 'UNRESOLVED' ? 'UNRESOLVED' : 'PENDING',
            1,
            {
              ...(facts.payOrderId ? { payOrderId: facts.payOrderId } : {}),
              ...(facts.mchOrderNo ? { mchOrderNo: facts.mchOrderNo } : {}),
            },
            next.pending.reason ?? (learnedId ? `the provider's cancel id is ${learnedId}` : undefined),
          );
      }
      run.answered = true;

      const now = Date.now();
      if (now >= deadlineAt && snapshot.status !== 'UNRESOLVED') {
        await run.giveUp(
          `not terminal after ${timings.deadlineMs} ms: ${next.note ?? 'the provider has not decided'}`,
        );
        // Reconciliation (or a late callback) may still deliver the answer.
        if (
          await condition(() => inbox.length > 0, timings.unresolvedHoldMs, {
            summary: 'UNRESOLVED: hold for a late provider callback or a reconciliation repair',
          })
        )
          continue;
        await condition(allHandlersFinished);
        return snapshot;
      }
      if (snapshot.status === 'UNRESOLVED') {
        await condition(allHandlersFinished);
        return snapshot;
      }

      const delay = pollDelayMs(timings, run.round, deadlineAt - now);
      run.round += 1;
      await condition(() => inbox.length > 0, delay, {
        summary: `wait before asking ${run.providerName} again (round ${run.round}), or for its callback`,
      });

      if (
        workflowInfo().historyLength > (input.historyLimit ?? UNFROZEN_HISTORY_LIMIT) &&
        inbox.length === 0
      ) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof cancellationWorkflow>({
          ...input,
          timings,
          resume: {
            cancelOrderId: snapshot.cancelOrderId,
            mayHaveLanded: run.decision.mayHaveLanded,
            lostSubmit: run.decision.lostSubmit,
            facts: {
              ...(snapshot.payOrderId ? { payOrderId: snapshot.payOrderId } : {}),
              ...(snapshot.amount ? { amount: snapshot.amount } : {}),
              ...(snapshot.reason ? { reason: snapshot.reason } : {}),
            },
            seq: run.seq,
            status: snapshot.status,
            state: snapshot.state,
            ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
            nextOp: run.decision.nextOp,
            round: run.round,
            submits: snapshot.submits,
            queries: snapshot.queries,
          },
        });
      }
    }
  } catch (err) {
    if (!(err instanceof SettledElsewhere)) throw err;
    log.warn('cancellation settled outside this run: it ends here', {
      cancelOrderId: snapshot.cancelOrderId,
      status: err.status,
    });
    run.answered = true;
    await condition(allHandlersFinished);
    return snapshot;
  }
}

/**
 * Records the cancellation (a local activity). Returns the run's result when the order already had
 * one (answered from its row, nothing is sent again); otherwise the run carries on.
 */
async function recordOrAnswer(run: CancellationRun): Promise<CancellationSnapshot | undefined> {
  const { input, snapshot } = run;
  const record = await run.local(
    recordCancellation({ ...input, deadlineAt: run.deadlineAt, ...(run.lean ? { submitting: true } : {}) }),
  );
  if (record.kind === 'existing') {
    // Answered from Postgres, the source of truth: nothing is sent again.
    Object.assign(snapshot, record.snapshot);
    run.answered = true;
    if (input.recorded) {
      // The newest run of this id tells the truth: the state the repair wrote.
      upsertSearchAttributes([
        { key: CancelState, value: snapshot.status },
        { key: CancelOrderId, value: snapshot.cancelOrderId },
      ]);
      snapshot.reason = `completed outside its run: ${input.recorded.by}`.slice(0, 256);
    } else {
      upsertSearchAttributes([{ key: CancelState, value: 'REPEAT' }]);
      snapshot.reason = `a repeated request, answered from the record of ${snapshot.cancelOrderId}`;
    }
    run.committed();
    run.showDetails();
    await condition(allHandlersFinished);
    // News for the cancellation's closed run that reached this one instead (a callback).
    await forwardRepeatNews(run);
    return snapshot;
  }
  snapshot.cancelOrderId = record.cancelOrderId;
  // What the merchant asked with, kept by the row (a retry by ops, a stopped run carried on): the
  // cancel sends it, and the merchant is notified at its notifyUrl.
  if (record.stored) Object.assign(input, record.stored);
  // Carrying on after a stopped run keeps the id: not a new cancellation.
  run.created = !(input.takeOver && record.carriedOn);
  if (record.carriedOn) {
    // Carrying on a cancellation whose run stopped (terminated) or a retried UNRESOLVED one:
    // what may have been sent counts, so the first step asks before it sends.
    const c = record.carriedOn;
    Object.assign(snapshot, {
      status: c.status,
      state: c.state,
      ...(c.providerCancelId ? { providerCancelId: c.providerCancelId } : {}),
    });
    run.seq = c.seq;
    run.decision = {
      nextOp: c.mayHaveLanded ? 'query' : 'submit',
      mayHaveLanded: c.mayHaveLanded,
      lostSubmit: c.mayHaveLanded,
    };
  }
  if (record.submitted) {
    // Marked sent by the write that recorded it (seq 1): one search-attribute upsert for both.
    Object.assign(snapshot, { status: 'SUBMITTED', state: 1 });
    run.seq = 1;
    upsertSearchAttributes([
      { key: CancelOrderId, value: record.cancelOrderId },
      { key: CancelState, value: 'SUBMITTED' },
    ]);
  } else upsertSearchAttributes([{ key: CancelOrderId, value: record.cancelOrderId }]);
  run.committed();
  run.showDetails();
  return undefined;
}
