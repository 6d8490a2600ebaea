// Ends the run with one line per engine (Playwright project) that a script can
// parse, as scripts/test.sh does for every suite:
//   "browser-chromium: N passed, N failed, N skipped, N flaky (S s)"
// Before each, one "browser-<engine> FAILED: file:line > title: error" line per
// test that did not pass and one "browser-<engine> SKIPPED: file:line > title:
// reason" line per skipped test, which scripts/test.sh repeats in its summary.
// The list reporter before it prints each test.
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

interface Engine {
  tests: Map<string, TestCase>;
  first: number;
  last: number;
}

export default class SummaryReporter implements Reporter {
  private engines = new Map<string, Engine>();
  private errors = new Map<string, string>();

  onTestBegin(test: TestCase): void {
    const name = test.parent.project()?.name ?? 'unknown';
    if (!this.engines.has(name)) this.engines.set(name, { tests: new Map(), first: Date.now(), last: Date.now() });
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    const engine = this.engines.get(test.parent.project()?.name ?? 'unknown')!;
    engine.tests.set(test.id, test);
    engine.last = Date.now();
    const error = result.errors[0]?.message ?? (result.status === 'timedOut' ? 'timed out' : result.status);
    // Escape codes off, the first three lines only: the list output has it all.
    const lines = error.replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).filter(Boolean);
    this.errors.set(test.id, lines.slice(0, 3).join(' / ').slice(0, 400));
  }

  onEnd(result: FullResult): void {
    const lines: string[] = [];
    let anyFailed = false;
    for (const [name, engine] of this.engines) {
      const suite = `browser-${name}`;
      const counts = { passed: 0, failed: 0, skipped: 0, flaky: 0 };
      for (const t of engine.tests.values()) {
        const o = t.outcome();
        const where = `${t.location.file.replace(/^.*tests\/browser\//, '')}:${t.location.line} > ${t.titlePath().slice(3).join(' > ')}`;
        if (o === 'expected') counts.passed++;
        else if (o === 'flaky') counts.flaky++;
        else if (o === 'skipped') {
          counts.skipped++;
          const reason = t.annotations.find((a) => a.type === 'skip' || a.type === 'fixme')?.description ?? 'no reason given';
          console.log(`${suite} SKIPPED: ${where}: ${reason}`);
        } else {
          counts.failed++;
          console.log(`${suite} FAILED: ${where}: ${this.errors.get(t.id)}`);
        }
      }
      anyFailed ||= counts.failed > 0;
      const secs = ((engine.last - engine.first) / 1000).toFixed(1);
      lines.push(`${suite}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped, ${counts.flaky} flaky (${secs} s)`);
    }
    // A run that did not pass although no test failed (interrupted, timed out,
    // a setup error) says so on every engine's line.
    const extra = result.status === 'passed' || anyFailed ? '' : ` [run ${result.status}]`;
    for (const line of lines) console.log(line + extra);
  }

  printsToStdio(): boolean {
    return true;
  }
}
