/** Jest runs TypeScript through ts-jest in transpile-only mode; `npm test` type-checks
 *  the whole tree with tsc first, so type errors still fail the run. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 60000,
  // Jest's default is one worker fewer than the cores: on CI's 2 cores that is one, and the
  // main thread mostly waits. Two workers use both: the suite took 381 s with one and
  // 208 s with two on a 2-core machine (2026-12-07).
  maxWorkers: 2,
};
