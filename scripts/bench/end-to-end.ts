/** End to end: cancellations through the API vs the platform's ceiling and units; the merchant's answer. */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { signEnvelope } from '../../providers/unified/sign';
import { ceilingAnswerUpdate, type ceilingWorkflow } from '../../workflows/bench';
import { SANDBOX_APPS } from '../../sandbox/standalone';
import { cpuPerItem, sampleCpu, type CpuSplit } from './cpu';
import { LEVELS, N, OPEN_LOAD, PARTS, say } from './knobs';
import { openLoop } from './open-loop';
import type { BenchStack } from './stack';
import { percentiles, pool, summarise, type Run } from './stats';

/** Answer latencies at one concurrency level (the ceiling's have no re-sends). */
export type Answer = Omit<Run, 'seconds' | 'perSecond'>;
/** The merchant's answer latencies at one concurrency level, and how many requests it sent again. */
export type MerchantAnswer = Answer & { resends: number };

/** Latencies of requests sent at a fixed rate (open loop), from when each was due. */
export type OpenLoopRun = Pick<Run, 'label' | 'perSecond' | 'count' | 'p50' | 'p95' | 'p99'> & {
  resends?: number;
};

/** 1 + 2. End to end vs the platform ceiling, at each concurrency level. */
export async function measureEndToEnd(stack: BenchStack): Promise<{
  runs: Run[];
  answers: MerchantAnswer[];
  ceilingAnswers: Answer[];
  sample: { workflowId: string; cancelOrderId: string } | undefined;
  cpu: CpuSplit[];
  open: OpenLoopRun[];
}> {
  const { dir, sandboxes, notifyUrl, waitAck, config, client, cancelflow, callApi, worker, api } = stack;
  const runs: Run[] = [];
  const cpu: CpuSplit[] = [];
  const groupOf = (pid: number, comm: string) =>
    pid === worker.pid
      ? 'worker'
      : pid === api.pid
        ? 'API'
        : /^postgres/.test(comm)
          ? 'Postgres'
          : /^temporal/.test(comm)
            ? 'Temporal server'
            : undefined;
  const threads = new Set([worker.pid]);
  /**
   * Waits until the stack is idle (the server, Postgres, the worker and the API together under 10 %
   * of a core for half a second, at most 15 s): what a pass started, its workflows' last tasks
   * included, is counted in that pass, not in the next.
   */
  const settle = async () => {
    const stack = ['worker', 'API', 'Postgres', 'Temporal server'];
    for (let i = 0; i < 30; i++) {
      const a = sampleCpu(groupOf);
      await new Promise((r) => setTimeout(r, 500));
      const b = sampleCpu(groupOf);
      if (stack.reduce((sum, g) => sum + (b.groups[g] ?? 0) - (a.groups[g] ?? 0), 0) < 0.05) return;
    }
  };
  let started = 0;
  let ended = 0;
  /**
   * Runs one pass on a settled stack (its start and end times in `started` and `ended`, the
   * settling left out) and keeps its CPU split.
   */
  const measured = async <T>(label: string, level: number, pass: () => Promise<T[]>): Promise<T[]> => {
    await settle();
    const before = sampleCpu(groupOf, threads);
    started = performance.now();
    const out = await pass();
    ended = performance.now();
    await settle();
    cpu.push({ label, concurrency: level, ...cpuPerItem(before, sampleCpu(groupOf, threads), out.length) });
    return out;
  };
  /** Time from the request to the merchant's answer (POST /api/pay/cancel), apart from the end to end. */
  const answers: MerchantAnswer[] = [];
  const ceilingAnswers: Answer[] = [];
  let resends = 0;
  const answerMs: number[] = [];
  let sample: { workflowId: string; cancelOrderId: string } | undefined;
  // The cancellation path through the real API, both providers at once (every other request).
  const appKeys = {
    payby: readFileSync(path.join(dir, 'sandbox', 'keys', 'payby-app.key'), 'utf8').trim(),
    unified: readFileSync(path.join(dir, 'sandbox', 'keys', 'unified-app.key'), 'utf8').trim(),
  };
  const cancelAgent = new http.Agent({ keepAlive: true, maxSockets: Math.max(...LEVELS) });
  // The open loop's requests are not bounded by a level: they must not queue in the bench's agent.
  const openAgent = new http.Agent({ keepAlive: true });
  /**
   * One cancellation through the API (PayBy for even i, Unified for odd), until its notification is
   * acknowledged: the times of the answer and of the acknowledgement, from `t0`.
   */
  const cancelOnce = async (mchOrderNo: string, i: number, t0: number, agent = cancelAgent) => {
    const provider = i % 2 === 0 ? 'payby' : 'unified';
    const order = provider === 'payby' ? { mchOrderNo } : { payOrderId: sandboxes.unified.setOrder({}) };
    const body = JSON.stringify(
      signEnvelope(SANDBOX_APPS[provider], appKeys[provider], { ...order, notifyUrl }),
    );
    // A merchant told "ask again" (503: not recorded within the API's wait) sends the same
    // request again, as seed 000's callers do; the answer time runs from the first send.
    let res = await callApi(agent, '/api/pay/cancel', body);
    for (let again = 0; res.status === 503 && again < 20; again += 1) {
      resends += 1;
      await new Promise((r) => setTimeout(r, 200));
      res = await callApi(agent, '/api/pay/cancel', body);
    }
    const answered = performance.now() - t0;
    const answer = JSON.parse(res.text) as { code: number; msg: string; data?: { cancelOrderId: string } };
    // A refusal would measure the wrong thing: stop.
    if (res.status !== 200 || answer.code !== 0 || !answer.data)
      throw new Error(`/api/pay/cancel: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    await waitAck(answer.data.cancelOrderId);
    if (!sample && provider === 'payby') {
      const { workflowId } = await cancelflow.getCancellation(answer.data.cancelOrderId);
      sample = { workflowId, cancelOrderId: answer.data.cancelOrderId };
    }
    return { answered, acked: performance.now() - t0 };
  };
  for (const level of PARTS.has('e2e') ? LEVELS : []) {
    say(`end to end: ${N} cancellations through the API (PayBy and Unified) at concurrency ${level} ...`);
    const e2e = await measured('cancelflow', level, () =>
      pool(N, level, async (i) => {
        const t0 = performance.now();
        const { answered, acked } = await cancelOnce(`B${level}-${i}`, i, t0);
        answerMs.push(answered);
        return acked;
      }),
    );
    runs.push(summarise('cancelflow', level, started, e2e, ended));
    say(`ceiling: ${N} workflows of the cancellation's shape, no work, at concurrency ${level} ...`);
    const ceilingAnswerMs: number[] = [];
    const ceiling = await measured('ceiling', level, () =>
      pool(N, level, async (i) => {
        const t0 = performance.now();
        const workflowId = `ceiling-${level}-${i}`;
        // As the API starts a cancellation: Update-with-Start, answered by the workflow.
        await client.workflow.executeUpdateWithStart(ceilingAnswerUpdate, {
          startWorkflowOperation: new WithStartWorkflowOperation<typeof ceilingWorkflow>('ceilingWorkflow', {
            workflowId,
            taskQueue: config.temporal.taskQueue,
            args: [workflowId],
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        });
        ceilingAnswerMs.push(performance.now() - t0);
        await client.workflow.getHandle(workflowId).result();
        return performance.now() - t0;
      }),
    );
    ceilingAnswers.push({ label: 'ceiling answer', concurrency: level, ...percentiles(ceilingAnswerMs) });
    runs.push(summarise('ceiling', level, started, ceiling, ended));
    for (const unit of ['unitActivityWorkflow', 'unitLocalActivityWorkflow'] as const) {
      say(`platform unit: ${N} ${unit} at concurrency ${level} ...`);
      const label = unit === 'unitActivityWorkflow' ? '1 activity' : '1 local activity';
      const units = await measured(label, level, () =>
        pool(N, level, async (i) => {
          const t0 = performance.now();
          const id = `${unit}-${level}-${i}`;
          await client.workflow.execute(unit, {
            workflowId: id,
            taskQueue: config.temporal.taskQueue,
            args: [id],
          });
          return performance.now() - t0;
        }),
      );
      runs.push(summarise(label, level, started, units, ended));
    }
    // Latencies only: these answers came during the end-to-end pass, whose rate is above.
    answers.push({
      label: 'merchant answer',
      concurrency: level,
      ...percentiles(answerMs.splice(0)),
      resends,
    });
    resends = 0;
  }
  // Below capacity: cancellations sent at OPEN_LOAD of the rate the first level reached, and the
  // 1-activity unit at the same rate (scripts/bench/open-loop.ts).
  const open: OpenLoopRun[] = [];
  const capacity = runs.find((r) => r.label === 'cancelflow')?.perSecond;
  if (capacity && OPEN_LOAD > 0) {
    const rate = Number((capacity * OPEN_LOAD).toFixed(1));
    const count = Math.min(N, 300);
    say(`open loop: ${count} cancellations at ${rate}/s (${OPEN_LOAD} of ${capacity}/s), then the unit ...`);
    const answered: number[] = [];
    await settle();
    const acked = await openLoop(count, rate, async (i, due) => {
      const t = await cancelOnce(`O-${i}`, i, due, openAgent);
      answered.push(t.answered);
      return t.acked;
    });
    await settle();
    const units = await openLoop(count, rate, async (i, due) => {
      const id = `unit-open-${i}`;
      await client.workflow.execute('unitActivityWorkflow', {
        workflowId: id,
        taskQueue: config.temporal.taskQueue,
        args: [id],
      });
      return performance.now() - due;
    });
    const row = (label: string, ms: number[]): OpenLoopRun => ({
      label,
      perSecond: rate,
      ...percentiles(ms),
    });
    open.push(
      { ...row('merchant answer', answered), resends },
      row('cancelflow (API → ack)', acked),
      row('1 activity', units),
    );
  }
  cancelAgent.destroy();
  openAgent.destroy();
  return { runs, answers, ceilingAnswers, sample, cpu, open };
}
