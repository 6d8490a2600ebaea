// Ends the run with one line a script can parse, as scripts/test.sh does for
// every suite: "browser: N passed, N failed, N skipped, N flaky (S s)".
// Before it, one "browser FAILED: file:line > title: error" line per test that
// did not pass, which scripts/test.sh repeats in its summary. The list
// reporter before it prints each test.
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  private final = new Map<string, TestCase>();
  private errors = new Map<string, string>();
  private start = Date.now();

  onTestEnd(test: TestCase, result: TestResult): void {
    this.final.set(test.id, test);
    const error = result.errors[0]?.message ?? (result.status === 'timedOut' ? 'timed out' : result.status);
    // Escape codes off, the first three lines only: the list output has it all.
    const lines = error.replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).filter(Boolean);
    this.errors.set(test.id, lines.slice(0, 3).join(' / ').slice(0, 400));
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
      else {
        failed++;
        const where = `${t.location.file.replace(/^.*tests\/browser\//, '')}:${t.location.line}`;
        console.log(`browser FAILED: ${where} > ${t.titlePath().slice(3).join(' > ')}: ${this.errors.get(t.id)}`);
      }
    }
    const secs = ((Date.now() - this.start) / 1000).toFixed(1);
    const extra = result.status === 'passed' || failed ? '' : ` [run ${result.status}]`;
    console.log(`browser: ${passed} passed, ${failed} failed, ${skipped} skipped, ${flaky} flaky (${secs} s)${extra}`);
  }

  printsToStdio(): boolean {
    return true;
  }
}
