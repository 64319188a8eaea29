import { describeConfig, loadChaosConfig } from '../../scripts/chaos/config';
import { failingTaskKeys } from '../../scripts/chaos/invariants';
import { endpointOf } from '../../scripts/temporal-server';

describe('chaos run: the Temporal engine', () => {
  test('the dev server by default; its timeline has no service restarts', () => {
    const c = loadChaosConfig({ CHAOS_PROFILE: 'short' });
    expect(c.temporal).toBe('dev');
    expect(c.faults.map((f) => f.kind)).not.toEqual(expect.arrayContaining(['restart-history']));
  });

  test('CHAOS_TEMPORAL=server adds the history and matching restarts to the default timeline', () => {
    const c = loadChaosConfig({ CHAOS_PROFILE: 'short', CHAOS_TEMPORAL: 'server' });
    expect(c.temporal).toBe('server');
    const kinds = c.faults.map((f) => f.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['restart-history', 'restart-matching', 'restart-temporal']),
    );
    expect(describeConfig(c)[0]).toMatch(/Temporal server on Postgres/);
    // In load order, each at its fraction of the planned load (300 at 3/s: 100 s).
    expect(c.faults.find((f) => f.kind === 'restart-history')).toEqual({
      atS: 24,
      kind: 'restart-history',
      durationS: 3,
    });
  });

  test('a service restart on the dev server, or an unknown engine, is refused naming the setting', () => {
    expect(() => loadChaosConfig({ CHAOS_FAULTS: '10:restart-history:3' })).toThrow(
      /restart-history needs CHAOS_TEMPORAL=server/,
    );
    expect(() => loadChaosConfig({ CHAOS_TEMPORAL: 'cloud' })).toThrow(
      /CHAOS_TEMPORAL must be dev or server/,
    );
    expect(loadChaosConfig({ CHAOS_TEMPORAL: 'server', CHAOS_FAULTS: '10:restart-matching' }).faults).toEqual(
      [{ atS: 10, kind: 'restart-matching', durationS: 5 }],
    );
  });

  test("the server's Postgres endpoint comes from the run's URL", () => {
    expect(endpointOf('postgres://postgres:p%40ss@127.0.0.1:54321/postgres')).toEqual({
      host: '127.0.0.1',
      port: 54321,
      user: 'postgres',
      password: 'p@ss',
    });
  });
});

describe('chaos run: failed workflow tasks', () => {
  test('only the causes that are not benign count, and they are the ones whose histories are printed', () => {
    const tf = {
      executions: [],
      taskFailures: new Map([
        ['wf-a/run-1', ['UNHANDLED_COMMAND']],
        ['wf-b/run-1', ['RESET_STICKY_TASK_QUEUE', 'NON_DETERMINISTIC_ERROR']],
        ['wf-c/run-1', ['UNHANDLED_UPDATE']],
        ['wf-d/run-1', ['WORKFLOW_WORKER_UNHANDLED_FAILURE']],
      ]),
      taskFailureMessages: new Map(),
      failedTaskHistories: new Map(),
      historiesRead: 4,
      historyBytes: 0,
      secretHits: new Map(),
    };
    expect(failingTaskKeys(tf)).toEqual(['wf-b/run-1', 'wf-d/run-1']);
  });
});
