/**
 * Prints the closing line CI reads, `N passed, N failed[, N skipped]`, from jest's own results,
 * and writes it to .data/test-summary.txt so .ci/run can repeat it as its last line.
 * A suite that failed to run at all counts as one failure.
 */
const fs = require('node:fs');
const path = require('node:path');

class CountReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    let line = `${results.numPassedTests} passed, ${failed} failed`;
    const skipped = results.numPendingTests + results.numTodoTests;
    if (skipped > 0) line += `, ${skipped} skipped`;
    const dir = path.resolve(__dirname, '..', '.data');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'test-summary.txt'), line + '\n');
    process.stdout.write(`\n${line}\n`);
  }
}

module.exports = CountReporter;
