/**
 * Real OS processes for tests: the helpers live in scripts/chaos/processes.ts, shared with the
 * chaos run (`npm run chaos`), and are re-exported here for the tests.
 */
export * from '../../scripts/chaos/processes';
