import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal as proto } from '@temporalio/proto';

/**
 * Histories recorded from real runs (binary protobuf) (RECORD_HISTORIES=1 npm test -- cancellation, and -- paid-orders, notification, reconciliation, callbacks, cli; v1_: recorded before the lean shape, kept; v2_: follow-ups that took a refused repeat as the verdict, recorded before patch follow-up-refusal-after-unconfirmed-send) replayed with the
 * current workflow code: a change that is not deterministic against running workflows fails here.
 */
const DIR = path.join(__dirname, 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.binpb'));

describe('replay of committed histories', () => {
  test('fixtures exist for the cancellation, notification, reconciliation, repair and settle workflows, before (v1_) and after the lean shape', () => {
    expect(files.some((f) => f.startsWith('cancel_payby'))).toBe(true);
    expect(files.some((f) => f.startsWith('cancel_unified'))).toBe(true);
    expect(files.some((f) => f.startsWith('notify_'))).toBe(true);
    expect(files.some((f) => f.startsWith('reconcile_'))).toBe(true);
    expect(files.some((f) => f.startsWith('repair_'))).toBe(true);
    expect(files.some((f) => f.startsWith('settle_'))).toBe(true);
    // Runs of the shape before the lean one (patch lean-shape-first-attempt-inline) still replay.
    expect(files.some((f) => f.startsWith('v1_cancel_payby'))).toBe(true);
    expect(files.some((f) => f.startsWith('v1_notify_'))).toBe(true);
    expect(files).toContain('notify_carry-on.binpb');
    // A revoke and a refund whose repeat was refused after a lost send, before and after the patch.
    for (const order of ['lagging-revoke', 'lagging-refund'])
      for (const prefix of ['v2_cancel_payby', 'cancel_payby'])
        expect(files.some((f) => f.startsWith(prefix) && f.endsWith(`PO-${order}.binpb`))).toBe(true);
  });

  for (const file of files) {
    test(`${file} replays without non-determinism`, async () => {
      const history = proto.api.history.v1.History.decode(readFileSync(path.join(DIR, file)));
      await Worker.runReplayHistory(
        { workflowBundle: { code: readFileSync(process.env.CANCELFLOW_TEST_WORKFLOW_BUNDLE!, 'utf8') } },
        history,
        file,
      );
    });
  }
});

describe('an SDK defect our client works around', () => {
  test('the 2026-12-02 chaos history (a query answered while a local activity had just finished, then an update) still fails to replay with this SDK', async () => {
    // A canary, not a goal: the status query of client/start.ts made the SDK (1.24) complete a
    // workflow task with the local activity's marker before the workflow saw its result; the
    // merchant's repeat, taken in the next task, landed between them (RELIABILITY.md). The client
    // now asks with the `status` update. When an SDK upgrade makes this history replay, the defect
    // is fixed upstream: keep the update (it is ordered in history) and delete this test.
    const file = path.join(__dirname, '../../docs/incidents/2026-12-02-query-while-local-activity.binpb');
    const history = proto.api.history.v1.History.decode(readFileSync(file));
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: { code: readFileSync(process.env.CANCELFLOW_TEST_WORKFLOW_BUNDLE!, 'utf8') } },
        history,
        'incident',
      ),
    ).rejects.toThrow(
      /UpsertWorkflowSearchAttributesMachine does not handle HistoryEvent\(id: 13, WorkflowExecutionUpdateAccepted\)/,
    );
  });
});
