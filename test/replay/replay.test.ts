import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal as proto } from '@temporalio/proto';

/**
 * Histories recorded from real runs (binary protobuf) (RECORD_HISTORIES=1 npm test -- cancellation, and -- paid-orders, notification, reconciliation, callbacks; v1_: recorded before the lean shape, kept) replayed with the
 * current workflow code: a change that is not deterministic against running workflows fails here.
 */
const DIR = path.join(__dirname, 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.binpb'));

describe('replay of committed histories', () => {
  test('fixtures exist for the cancellation, notification, reconciliation and repair workflows, before (v1_) and after the lean shape', () => {
    expect(files.some((f) => f.startsWith('cancel_payby'))).toBe(true);
    expect(files.some((f) => f.startsWith('cancel_unified'))).toBe(true);
    expect(files.some((f) => f.startsWith('notify_'))).toBe(true);
    expect(files.some((f) => f.startsWith('reconcile_'))).toBe(true);
    expect(files.some((f) => f.startsWith('repair_'))).toBe(true);
    // Runs of the shape before the lean one (patch lean-shape-first-attempt-inline) still replay.
    expect(files.some((f) => f.startsWith('v1_cancel_payby'))).toBe(true);
    expect(files.some((f) => f.startsWith('v1_notify_'))).toBe(true);
    expect(files).toContain('notify_carry-on.binpb');
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
