// Mutation testing of the pure modules against the unit tier (Stryker, tap runner).
// Run it with `npm run mutation [-- <file> ...]` (scripts/mutation.ts), which prints
// the score per module and the survivors. Not part of `npm test` or CI.

/**
 * Loaded before each test file under mutation: an `assert.ok(value)` without a
 * message gets a fixed one. Without it, Node builds the message of a failing
 * assert.ok by re-parsing the test's TypeScript source with a JavaScript parser,
 * which can take tens of seconds per failure; a mutant then looks like a timeout
 * instead of being killed. Passing and failing stay exactly what they are.
 */
const quietAssert = [
  "import assert from 'node:assert';",
  "const quiet = (ok) => function (...args) { return args.length === 0 ? ok() : ok(args[0], args[1] ?? 'assertion failed (message not generated under mutation testing)'); };",
  'assert.ok = quiet(assert.ok);',
  'assert.strict.ok = quiet(assert.strict.ok);',
].join(' ');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  tap: {
    // Every unit test file but layers.test.ts, which reads lib/'s sources as text: the sandbox's
    // instrumented copies (every mutant of a file inlined in it) break its line-count rule, and
    // no mutant can change what it reads.
    testFiles: ['test/unit/!(layers).test.ts'],
    // node:test prints TAP when stdout is not a terminal; tsx loads the TypeScript.
    nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(quietAssert)}`, '--import', 'tsx', '-r', '{{hookFile}}', '{{testFile}}'],
  },
  // Each test file is one "test" for the tap runner: a mutant runs only the files that reach it.
  coverageAnalysis: 'perTest',
  mutate: [
    'lib/cluster/**/*.ts',
    // What the spec decoder's platform checks, loader and suggestions moved to (24bf6c0, f1a52eb).
    'lib/platforms/load.ts',
    'lib/platforms/*/rules.ts',
    'lib/text/suggest.ts',
    'lib/plan/**/*.ts',
    'lib/render/**/*.ts',
    'lib/platforms/lab/calicoNode/selector.ts',
    'lib/workflows/comment.ts',
    'lib/phases/retry.ts',
  ],
  // The sandbox is a copy of the checkout: leave out setup's cache and the lab's state.
  ignorePatterns: ['.cache', '.lab', '.scratch', 'actions/*/dist', '*.log'],
  // Two cores here, shared with other work.
  concurrency: 1,
  // Generous: a busy machine must not turn a slow run into a "timeout" (which counts as killed).
  timeoutMS: 15000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 20,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  reporters: ['json', 'html', 'progress'],
  jsonReporter: { fileName: '.cache/mutation/mutation.json' },
  htmlReporter: { fileName: '.cache/mutation/mutation.html' },
  incrementalFile: '.cache/mutation/incremental.json',
  warnings: { slow: false },
};
