// Ends the run with one line a script can parse, as scripts/test.sh does for
// every suite: "browser: N passed, N failed, N skipped, N flaky (S s)".
// The list reporter before it prints each test.
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  private final = new Map<string, TestCase>();
  private start = Date.now();

  onTestEnd(test: TestCase, _result: TestResult): void {
    this.final.set(test.id, test);
  }

  onEnd(result: FullResult): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let flaky = 0;
    for (const t of this.final.values()) {
      const o = t.outcome();
      if (o === 'expected') passed++;
      else if (o === 'skipped') skipped++;
      else if (o === 'flaky') flaky++;
      else failed++;
    }
    const secs = ((Date.now() - this.start) / 1000).toFixed(1);
    const extra = result.status === 'passed' || failed ? '' : ` [run ${result.status}]`;
    console.log(`browser: ${passed} passed, ${failed} failed, ${skipped} skipped, ${flaky} flaky (${secs} s)${extra}`);
  }

  printsToStdio(): boolean {
    return true;
  }
}
