/**
 * The state of one cancellation run (workflows/cancellation.ts) and the steps every part of it
 * takes: a transition written to Postgres, what the merchant and ops are told, what the Temporal
 * UI shows. Workflow code: deterministic, replayed.
 */
import {
  log,
  patched,
  proxyLocalActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  DEFAULT_TIMINGS,
  TERMINAL_STATUSES,
  type CancellationInput,
  type CancellationSnapshot,
  type CancellationStatus,
  type CancellationTimings,
  type ProviderOutcomeSignal,
  type SeedState,
  type TransitionRecord,
} from '../contract/cancellation';
import { INITIAL_DECISION_STATE, type DecisionState } from '../contract/decision';
import { localPersistence } from './activity-options';
import { HELD_FIELDS, LEAN_PATCH, SettledElsewhere } from './cancellation-rules';
import { CancelState } from './search-attributes';

type Activities = ReturnType<typeof createActivities>;
const { recordTransition } = proxyLocalActivities<Activities>(localPersistence);

export class CancellationRun {
  readonly timings: CancellationTimings;
  readonly deadlineAt: number;
  readonly snapshot: CancellationSnapshot;
  seq: number;
  decision: DecisionState;
  round: number;
  /** Every signal is kept (one could not hide another); repeats of one reference count once. */
  readonly inbox: ProviderOutcomeSignal[] = [];
  /** The merchant's wait may end (a resumed run answered its merchant long ago). */
  answered: boolean;
  /** This run recorded a new cancellation (not a repeat, not a carried-on one). */
  created = false;
  /** `accept` updates received. */
  accepts = 0;
  /** Local activities of this run in flight: the merchant's wait never ends while one is. */
  localInFlight = 0;
  /** The lean shape (LEAN_PATCH), decided once, first: every command follows from it. */
  readonly lean: boolean;
  readonly providerName: string;
  readonly queryName: string;
  /**
   * What the merchant and ops are told: what Postgres holds. `snapshot` runs ahead of it while a
   * write is in flight (a held final write must never be answered as final); `told` follows each
   * write once it has committed. The counters and the notification's progress are the run's own.
   */
  private told: CancellationSnapshot;

  constructor(readonly input: CancellationInput) {
    this.timings = { ...DEFAULT_TIMINGS, ...input.timings };
    const { workflowId } = workflowInfo();
    this.deadlineAt = input.requestedAt + this.timings.deadlineMs;
    const resume = input.resume;
    this.snapshot = {
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
      deadlineAt: this.deadlineAt,
    };
    this.seq = resume?.seq ?? 0;
    this.decision = resume
      ? { nextOp: resume.nextOp, mayHaveLanded: resume.mayHaveLanded, lostSubmit: resume.lostSubmit }
      : INITIAL_DECISION_STATE;
    this.round = resume?.round ?? 0;
    this.answered = resume !== undefined;
    this.providerName = input.provider === 'payby' ? 'PayBy' : 'the Unified gateway';
    this.queryName = input.provider === 'payby' ? 'getOrder' : 'cancel query';
    this.lean = patched(LEAN_PATCH);
    this.told = { ...this.snapshot };
  }

  /** Runs a local activity, counted in `localInFlight` while it runs. */
  local<T>(running: Promise<T>): Promise<T> {
    this.localInFlight += 1;
    return running.finally(() => {
      this.localInFlight -= 1;
    });
  }

  /** What the Temporal UI shows as this run's current details: the business state, not "Running". */
  showDetails(): void {
    const s = this.snapshot;
    setCurrentDetails(
      [
        `**${s.status}** (seed state ${s.state})`,
        s.cancelOrderId ? `cancelOrderId ${s.cancelOrderId}` : '',
        s.errCode ? `errCode ${s.errCode}: ${s.errMsg ?? ''}` : '',
        s.amount ? `amount ${s.amount.minor} minor units ${s.amount.currency}` : '',
        s.reason ? `why: ${s.reason}` : '',
        `${s.submits} cancel(s) sent, ${s.queries} query(ies)`,
        s.notification
          ? `notification: ${s.notification}${s.notificationWorkflowId ? ` (${s.notificationWorkflowId})` : ''}`
          : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
    );
  }

  /** The snapshot's state has committed to Postgres: it may be told. */
  committed(): void {
    this.told = { ...this.snapshot };
  }

  /** The committed state with the run's own counters and notification progress. */
  view(): CancellationSnapshot {
    const s = this.snapshot;
    return {
      ...this.told,
      submits: s.submits,
      queries: s.queries,
      ...(s.notification ? { notification: s.notification } : {}),
      ...(s.notificationWorkflowId ? { notificationWorkflowId: s.notificationWorkflowId } : {}),
    };
  }

  /** The cancellation's addresses for a provider call. */
  target() {
    return {
      cancelOrderId: this.snapshot.cancelOrderId,
      accountId: this.input.accountId,
      order: this.input.order,
      ...(this.snapshot.providerCancelId ? { providerCancelId: this.snapshot.providerCancelId } : {}),
    };
  }

  /**
   * Writes the next state (a local activity). Postgres may hold another one a repair or a late
   * callback wrote first: that is the truth, and a final one ends the run (`SettledElsewhere`).
   */
  async transition(
    status: CancellationStatus,
    state: SeedState,
    patch: Partial<TransitionRecord>,
    reason?: string,
  ): Promise<void> {
    const snapshot = this.snapshot;
    Object.assign(snapshot, patch, { status, state }, reason ? { reason: reason.slice(0, 256) } : {});
    this.seq += 1;
    const held = await this.local(
      recordTransition({
        cancelOrderId: snapshot.cancelOrderId,
        seq: this.seq,
        status,
        state,
        ...(reason ? { reason: reason.slice(0, 256) } : {}),
        ...(snapshot.providerCancelId ? { providerCancelId: snapshot.providerCancelId } : {}),
        ...patch,
      }),
    );
    if (held) {
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
        this.committed();
        upsertSearchAttributes([{ key: CancelState, value: snapshot.status }]);
        this.showDetails();
        throw new SettledElsewhere(held.status);
      }
    }
    this.committed();
    upsertSearchAttributes([{ key: CancelState, value: snapshot.status }]);
    this.showDetails();
  }

  /** Past the deadline without a final answer: UNRESOLVED (seed state stays 1), then hold. */
  async giveUp(reason: string): Promise<void> {
    log.warn('cancellation UNRESOLVED', { cancelOrderId: this.snapshot.cancelOrderId, reason });
    await this.transition('UNRESOLVED', this.snapshot.state === 0 ? 1 : this.snapshot.state, {}, reason);
  }
}
