import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  ANSWER_SCOPE,
  decide,
  finalStatusOf,
  INITIAL_DECISION_STATE,
  type AnswerSource,
  type DecisionState,
  type FinalOutcome,
} from '../contract/decision';
import { pollDelayMs } from '../contract/backoff';
import { NOT_SENT } from '../contract/failures';
import type { CancelOutcome, OrderFacts } from '../providers/types';
import { localPersistence, persistence, providerQuery, providerSubmit } from './activity-options';
import { acceptUpdate, providerOutcomeSignal, statusQuery } from './definitions';
import { notifyMerchant } from './first-notification';
import { followUpPaidOrder } from './follow-up';
import { CancelFollowUp, CancelOrderId, CancelState } from './search-attributes';
import {
  DEFAULT_TIMINGS,
  TERMINAL_STATUSES,
  type CancellationInput,
  type CancellationSnapshot,
  type CancellationStatus,
  type ProviderOutcomeSignal,
  type SeedState,
  type TransitionRecord,
} from '../contract/cancellation';

type Activities = ReturnType<typeof createActivities>;
const { recordCancellation, recordTransition } = proxyLocalActivities<Activities>(localPersistence);
const { verifiedCallbackOutcome } = proxyActivities<Activities>(persistence);
const { submitCancel } = proxyActivities<Activities>(providerSubmit);
const { queryCancel } = proxyActivities<Activities>(providerQuery);

/** Signals waiting to be looked at, at most (a flood of made-up references cannot grow the state). */
const MAX_INBOX = 100;

/** The history limit of runs started before it was frozen into the input (never change it). */
const UNFROZEN_HISTORY_LIMIT = 8_000;

/**
 * Runs that take it end the merchant's wait only between local activities (see the accept handler).
 * Runs started before it replay with the old wait. Never rename it.
 */
const ACCEPT_WAIT_PATCH = 'accept-wait-ends-between-local-activities';

/**
 * Runs that take it have the lean shape (BENCHMARKS.md): the merchant's wait has no workflow timer
 * (the client bounds it), the new cancellation is marked sent by the write that records it, and
 * the notification's first attempt is made by this run (a child only carries on after a failure).
 * Runs started before it replay with the old shape. Never rename it.
 */
const LEAN_PATCH = 'lean-shape-first-attempt-inline';

/** The fields a transition may have set that Postgres's held state replaces (`TransitionHeld`). */
const HELD_FIELDS = [
  'retryable',
  'payOrderId',
  'amount',
  'providerCancelId',
  'providerOrderNo',
  'channelOrderNo',
  'successTime',
  'errCode',
  'errMsg',
] as const;

/** PayBy's refusals of a paid order's cancel: ORDER_PAID, ORDER_SETTLED. */
const PAID_CODES = new Set(['62001', '62003']);

/**
 * Answers recorded before the classifiers marked "not found" (`notFound`) carry only PayBy's
 * codes: read for those alone, so that runs of then replay. Never extend it: mark the answer.
 */
const RECORDED_NOT_FOUND_CODES = new Set(['62004', '62035']);

/** The provider does not know the order: nothing more to ask about it. */
const notFound = (o: FinalOutcome): boolean =>
  o.kind === 'refused' && (o.notFound === true || RECORDED_NOT_FOUND_CODES.has(o.code));

/** Postgres holds a final state another writer made (a repair): the run ends with it. */
class SettledElsewhere extends Error {
  constructor(readonly status: CancellationStatus) {
    super(`settled outside this run: ${status}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The ApplicationFailure type an activity failed with, if any. */
function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function factsOf(outcome: CancelOutcome): OrderFacts {
  if (outcome.kind !== 'cancelled' && outcome.kind !== 'refused' && outcome.kind !== 'pending') return {};
  return {
    ...(outcome.payOrderId ? { payOrderId: outcome.payOrderId } : {}),
    ...(outcome.mchOrderNo ? { mchOrderNo: outcome.mchOrderNo } : {}),
    ...(outcome.amount ? { amount: outcome.amount } : {}),
  };
}

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
 */
export async function cancellationWorkflow(input: CancellationInput): Promise<CancellationSnapshot> {
  const timings = { ...DEFAULT_TIMINGS, ...input.timings };
  const { workflowId } = workflowInfo();
  const deadlineAt = input.requestedAt + timings.deadlineMs;
  const resume = input.resume;
  const snapshot: CancellationSnapshot = {
    cancelOrderId: resume?.cancelOrderId ?? '',
    workflowId,
    accountId: input.accountId,
    provider: input.provider,
    mchNo: input.mchNo,
    appId: input.appId,
    order: input.order,
    status: resume?.status ?? 'RECEIVED',
    state: resume?.state ?? 0,
    ...(resume?.providerCancelId ? { providerCancelId: resume.providerCancelId } : {}),
    ...resume?.facts,
    submits: resume?.submits ?? 0,
    queries: resume?.queries ?? 0,
    requestedAt: input.requestedAt,
    deadlineAt,
  };
  let seq = resume?.seq ?? 0;
  let decision: DecisionState = resume
    ? { nextOp: resume.nextOp, mayHaveLanded: resume.mayHaveLanded, lostSubmit: resume.lostSubmit }
    : INITIAL_DECISION_STATE;
  let round = resume?.round ?? 0;
  // Every signal is kept (one could not hide another); repeats of one reference count once.
  const inbox: ProviderOutcomeSignal[] = [];
  // A resumed run answered its merchant long ago.
  let answered = resume !== undefined;
  let created = false;
  let accepts = 0;
  // Local activities of this run in flight: the merchant's wait never ends while one is.
  let localInFlight = 0;
  const local = <T>(running: Promise<T>): Promise<T> => {
    localInFlight += 1;
    return running.finally(() => {
      localInFlight -= 1;
    });
  };

  const providerName = input.provider === 'payby' ? 'PayBy' : 'the Unified gateway';
  const queryName = input.provider === 'payby' ? 'getOrder' : 'cancel query';
  /** What the Temporal UI shows as this run's current details: the business state, not "Running". */
  const showDetails = () =>
    setCurrentDetails(
      [
        `**${snapshot.status}** (seed state ${snapshot.state})`,
        snapshot.cancelOrderId ? `cancelOrderId ${snapshot.cancelOrderId}` : '',
        snapshot.errCode ? `errCode ${snapshot.errCode}: ${snapshot.errMsg ?? ''}` : '',
        snapshot.amount ? `amount ${snapshot.amount.minor} minor units ${snapshot.amount.currency}` : '',
        snapshot.reason ? `why: ${snapshot.reason}` : '',
        `${snapshot.submits} cancel(s) sent, ${snapshot.queries} query(ies)`,
        snapshot.notification
          ? `notification: ${snapshot.notification}${snapshot.notificationWorkflowId ? ` (${snapshot.notificationWorkflowId})` : ''}`
          : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
    );

  // Decided once, first: every command below follows from it.
  const lean = patched(LEAN_PATCH);

  // What the merchant and ops are told: what Postgres holds. `snapshot` runs ahead of it while a
  // write is in flight (a held final write must never be answered as final); `told` follows each
  // write once it has committed. The counters and the notification's progress are the run's own.
  let told: CancellationSnapshot = { ...snapshot };
  const committed = () => {
    told = { ...snapshot };
  };
  const view = (): CancellationSnapshot => ({
    ...told,
    submits: snapshot.submits,
    queries: snapshot.queries,
    ...(snapshot.notification ? { notification: snapshot.notification } : {}),
    ...(snapshot.notificationWorkflowId ? { notificationWorkflowId: snapshot.notificationWorkflowId } : {}),
  });
  // Asked after the merchant's wait ran out (client/index.ts): "created" as the update would say,
  // as long as no other request attached (then it cannot tell whose request created it).
  setHandler(statusQuery, () => ({ ...view(), created: created && accepts <= 1 }));
  // A signal carries no outcome: it wakes the run, which finds out for itself.
  setHandler(providerOutcomeSignal, (signal) => {
    if (
      inbox.length < MAX_INBOX &&
      !inbox.some((s) => s.source === signal.source && s.reference === signal.reference)
    )
      inbox.push(signal);
  });
  setHandler(acceptUpdate, async ({ waitMs }) => {
    const first = accepts++ === 0;
    const summary = "answer the merchant: wait for the provider's first answer";
    if (lean) {
      // No timer: the caller's own deadline bounds its wait (client/index.ts asks where the run
      // stands when it passes). Only the main code ends this wait, so the order of commands never
      // depends on how a timer and a local activity's result are delivered.
      await condition(() => answered);
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
          await condition(() => answered || (waitedOut && localInFlight === 0));
        } finally {
          CancellationScope.current().cancel();
        }
      });
    } else {
      await condition(() => answered, Math.max(1, waitMs), { summary });
    }
    if (!snapshot.cancelOrderId)
      throw ApplicationFailure.retryable(
        'the cancellation is accepted but not recorded yet: send the same request again',
        'NOT_RECORDED',
      );
    return { ...view(), created: created && first };
  });

  const transition = async (
    status: CancellationStatus,
    state: SeedState,
    patch: Partial<TransitionRecord>,
    reason?: string,
  ): Promise<void> => {
    Object.assign(snapshot, patch, { status, state }, reason ? { reason: reason.slice(0, 256) } : {});
    seq += 1;
    const held = await local(
      recordTransition({
        cancelOrderId: snapshot.cancelOrderId,
        seq,
        status,
        state,
        ...(reason ? { reason: reason.slice(0, 256) } : {}),
        ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
        ...patch,
      }),
    );
    if (held) {
      // Postgres holds another state (a repair or a late callback wrote first): that is the truth.
      for (const key of HELD_FIELDS) delete snapshot[key];
      Object.assign(snapshot, held, {
        reason: `Postgres holds ${held.status} (written outside this run); this run's ${status} was not written`,
      });
      log.error('transition not written: the run takes what Postgres holds', {
        cancelOrderId: snapshot.cancelOrderId,
        wanted: status,
        held: held.status,
      });
      if (TERMINAL_STATUSES.includes(held.status)) {
        // Settled by another writer, which notifies: nothing more is sent, asked or notified.
        committed();
        upsertSearchAttributes([{ key: CancelState, value: snapshot.status }]);
        showDetails();
        throw new SettledElsewhere(held.status);
      }
    }
    committed();
    upsertSearchAttributes([{ key: CancelState, value: snapshot.status }]);
    showDetails();
  };

  if (!resume) {
    const record = await local(
      recordCancellation({ ...input, deadlineAt, ...(lean ? { submitting: true } : {}) }),
    );
    if (record.kind === 'existing') {
      // Answered from Postgres, the source of truth: nothing is sent again.
      Object.assign(snapshot, record.snapshot);
      answered = true;
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
      committed();
      showDetails();
      await condition(allHandlersFinished);
      return snapshot;
    }
    snapshot.cancelOrderId = record.cancelOrderId;
    // Carrying on after a stopped run keeps the id: not a new cancellation.
    created = !(input.takeOver && record.carriedOn);
    if (record.carriedOn) {
      // Carrying on a cancellation whose run stopped (terminated) or a retried UNRESOLVED one:
      // what may have been sent counts, so the first step asks before it sends.
      const c = record.carriedOn;
      Object.assign(snapshot, {
        status: c.status,
        state: c.state,
        ...(c.providerCancelId ? { providerCancelId: c.providerCancelId } : {}),
      });
      seq = c.seq;
      decision = {
        nextOp: c.mayHaveLanded ? 'query' : 'submit',
        mayHaveLanded: c.mayHaveLanded,
        lostSubmit: c.mayHaveLanded,
      };
    }
    if (record.submitted) {
      // Marked sent by the write that recorded it (seq 1): one search-attribute upsert for both.
      Object.assign(snapshot, { status: 'SUBMITTED', state: 1 });
      seq = 1;
      upsertSearchAttributes([
        { key: CancelOrderId, value: record.cancelOrderId },
        { key: CancelState, value: 'SUBMITTED' },
      ]);
    } else upsertSearchAttributes([{ key: CancelOrderId, value: record.cancelOrderId }]);
    committed();
    showDetails();
  }

  const target = () => ({
    cancelOrderId: snapshot.cancelOrderId,
    accountId: input.accountId,
    order: input.order,
    ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
  });
  // An activity that failed for good (timeout, crash) is an answer we do not know.
  const unknownAfter =
    (what: string) =>
    (err: unknown): CancelOutcome => ({
      kind: 'unknown',
      reason: `${what} failed: ${message(err)}`,
      // The request never left (activities/adapters.ts writeAhead): decide() knows nothing changed.
      ...(failureType(err) === NOT_SENT ? { code: NOT_SENT } : {}),
    });

  /** The order's own facts (payOrderId, amount) when the deciding answer did not carry them. */
  const completeFacts = async (outcome: FinalOutcome): Promise<OrderFacts> => {
    const facts = factsOf(outcome);
    if (outcome.kind === 'misconfigured' || notFound(outcome)) return facts;
    if (facts.amount && (facts.payOrderId ?? input.order.payOrderId)) return facts;
    snapshot.queries += 1;
    const extra = await queryCancel(target()).catch(unknownAfter('query'));
    return { ...factsOf(extra), ...facts };
  };

  /** Past the deadline without a final answer: UNRESOLVED (seed state stays 1), then hold. */
  const giveUp = async (reason: string): Promise<void> => {
    log.warn('cancellation UNRESOLVED', { cancelOrderId: snapshot.cancelOrderId, reason });
    await transition('UNRESOLVED', snapshot.state === 0 ? 1 : snapshot.state, {}, reason);
  };

  /**
   * A paid order refused by PayBy (62001/62003), under an app policy that reverses it: revoke or
   * refund (workflows/follow-up.ts). Returns the outcome to persist, or undefined when it ended
   * UNRESOLVED.
   */
  const followUp = async (
    refusal: Extract<FinalOutcome, { kind: 'refused' }>,
  ): Promise<FinalOutcome | undefined> => {
    const end = await followUpPaidOrder({
      cancelOrderId: snapshot.cancelOrderId,
      accountId: input.accountId,
      order: { ...input.order, ...(refusal.payOrderId ? { payOrderId: refusal.payOrderId } : {}) },
      policy: input.paidOrders!,
      deadlineAt,
      timings,
      local,
      onStart: async (via, reason) => {
        snapshot.followUp = via;
        upsertSearchAttributes([{ key: CancelFollowUp, value: via }]);
        await transition('PENDING', 1, { followUp: via }, reason);
      },
    });
    switch (end.kind) {
      case 'done':
        return {
          kind: 'cancelled',
          channelOrderNo: end.channelOrderNo,
          successTime: end.successTime,
          ...(end.amount ? { amount: end.amount } : {}),
          ...(refusal.payOrderId ? { payOrderId: refusal.payOrderId } : {}),
        };
      case 'refused':
        return { ...refusal, code: end.code, message: end.message };
      case 'misconfigured':
        return { kind: 'misconfigured', code: end.code, message: end.message };
      case 'declined':
        return { ...refusal, message: `${refusal.message}: ${end.reason}` };
      case 'unresolved':
        await giveUp(end.reason);
        return undefined;
    }
  };

  const finish = async (decided: FinalOutcome): Promise<CancellationSnapshot> => {
    let outcome = decided;
    if (
      decided.kind === 'refused' &&
      input.provider === 'payby' &&
      input.paidOrders &&
      PAID_CODES.has(decided.code)
    ) {
      const followed = await followUp(decided);
      if (!followed) {
        answered = true;
        await condition(allHandlersFinished);
        return snapshot;
      }
      outcome = followed;
    }
    const { status, state, retryable } = finalStatusOf(outcome);
    if (outcome.kind !== 'misconfigured' && outcome.providerCancelId)
      snapshot.providerCancelId = outcome.providerCancelId;
    const facts = await completeFacts(outcome);
    const patch: Partial<TransitionRecord> = {
      ...(facts.payOrderId ? { payOrderId: facts.payOrderId } : {}),
      ...(facts.mchOrderNo ? { mchOrderNo: facts.mchOrderNo } : {}),
      ...(facts.amount ? { amount: facts.amount } : {}),
    };
    if (outcome.kind === 'cancelled') {
      await transition(status, state, {
        ...patch,
        ...(outcome.providerCancelId ? { providerCancelId: outcome.providerCancelId } : {}),
        ...(outcome.providerOrderNo ? { providerOrderNo: outcome.providerOrderNo } : {}),
        ...(outcome.channelOrderNo ? { channelOrderNo: outcome.channelOrderNo } : {}),
        ...(outcome.successTime ? { successTime: outcome.successTime } : {}),
      });
    } else if (outcome.kind === 'refused') {
      await transition(
        status,
        state,
        {
          ...patch,
          ...(outcome.providerCancelId ? { providerCancelId: outcome.providerCancelId } : {}),
          ...(outcome.channelOrderNo ? { channelOrderNo: outcome.channelOrderNo } : {}),
          errCode: outcome.code,
          errMsg: outcome.message.slice(0, 256),
        },
        outcome.message,
      );
    } else {
      log.error('provider refused our request: check the account configuration', {
        accountId: input.accountId,
        code: outcome.code,
      });
      await transition(
        status,
        state,
        { errCode: outcome.code, errMsg: outcome.message.slice(0, 256), retryable },
        outcome.message,
      );
    }
    answered = true;
    if (input.notifyUrl) await notify();
    await condition(allHandlersFinished);
    return snapshot;
  };

  /** The seed-000 Cancel Notification of the final state (workflows/first-notification.ts). */
  const notify = async (): Promise<void> => {
    await notifyMerchant(snapshot, timings.notificationScheduleMs, lean);
    showDetails();
  };

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
        outcome = await queryCancel(target()).catch(unknownAfter('query'));
      } else if (decision.nextOp === 'submit') {
        from = 'submit';
        // Seed state 1 from the moment the cancel may reach the provider, written before it is sent.
        if (snapshot.status === 'RECEIVED') await transition('SUBMITTED', 1, {});
        snapshot.submits += 1;
        outcome = await submitCancel
          .executeWithOptions(
            { summary: `send the signed cancel to ${providerName} (cancel #${snapshot.submits})` },
            [
              {
                ...target(),
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
          .executeWithOptions({ summary: `ask ${providerName} (${queryName}), round ${round}` }, [target()])
          .catch(unknownAfter('query'));
      }

      const next = decide(decision, from, outcome, ANSWER_SCOPE[input.provider]);
      if (next.action === 'finish') return await finish(next.outcome);
      decision = next.state;
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
          await transition(
            snapshot.status === 'UNRESOLVED' ? 'UNRESOLVED' : 'PENDING',
            1,
            {
              ...(facts.payOrderId ? { payOrderId: facts.payOrderId } : {}),
              ...(facts.mchOrderNo ? { mchOrderNo: facts.mchOrderNo } : {}),
            },
            next.pending.reason ?? (learnedId ? `the provider's cancel id is ${learnedId}` : undefined),
          );
      }
      answered = true;

      const now = Date.now();
      if (now >= deadlineAt && snapshot.status !== 'UNRESOLVED') {
        await giveUp(
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

      const delay = pollDelayMs(timings, round, deadlineAt - now);
      round += 1;
      await condition(() => inbox.length > 0, delay, {
        summary: `wait before asking ${providerName} again (round ${round}), or for its callback`,
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
            mayHaveLanded: decision.mayHaveLanded,
            lostSubmit: decision.lostSubmit,
            facts: {
              ...(snapshot.payOrderId ? { payOrderId: snapshot.payOrderId } : {}),
              ...(snapshot.amount ? { amount: snapshot.amount } : {}),
              ...(snapshot.reason ? { reason: snapshot.reason } : {}),
            },
            seq,
            status: snapshot.status,
            state: snapshot.state,
            ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
            nextOp: decision.nextOp,
            round,
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
    answered = true;
    await condition(allHandlersFinished);
    return snapshot;
  }
}
