// How long to spin before parking, learned from how long recent waits took
// (shared/DESIGN.md "Waiting"). Both ends of a call use one: the page before
// it parks on its response rings, a JavaScript worker before it blocks on
// its request ring.
//
// A park and its wake-up cost tens to hundreds of microseconds; a spin costs
// the time spun. So spin about as long as answers usually take, when that is
// short, and not at all when it is not. Each wait asks next() for its budget,
// spins up to it, and reports spun(us) (the thing came after `us` of
// spinning) or parked(us) (it did not come within the `us` spun):
// - the budget tracks the 95th percentile of how long the thing takes to
//   come (a stochastic quantile estimate: up a step when a wait took longer
//   than it, including every wait that had to park, down a nineteenth of a
//   step otherwise), never above capUs;
// - a wait that spun all of capUs in vain says spinning does not pay; once
//   those are more than half of the recent waits that could tell (slow
//   tasks, or a machine so busy that the answer cannot come while we spin),
//   the budget is 0, except that every kProbeEvery-th wait spins the whole
//   cap to find out whether answers have become quick again.
// Allocation-free; a budget is used by one thread.

/** Microseconds from a monotonic clock (performance.now(), ms with fractions). */
export function nowUs(): number {
  return performance.now() * 1000;
}

const kMissRate = 0.05; // the fraction of waits that may outlast the budget
const kProbeEvery = 16;

export class SpinBudget {
  private budgetUs: number;
  private quantileUs: number;
  private paying = 1; // EWMA of 1 (the thing came within capUs) / 0 (it did not)
  private idle = 0; // waits since the last probe, while the budget is 0

  constructor(
    /** Never spin longer than this. */
    readonly capUs: number,
    initialUs = Math.min(capUs, 20),
  ) {
    this.budgetUs = initialUs;
    this.quantileUs = Math.max(1, initialUs);
  }

  /** Microseconds to spin in the next wait (0: park at once). */
  next(): number {
    if (this.budgetUs > 0 || this.capUs === 0) return this.budgetUs;
    return ++this.idle % kProbeEvery === 0 ? this.capUs : 0;
  }

  /** What the wait waited for came after `us` microseconds of spinning. */
  spun(us: number): void {
    this.paying += (1 - this.paying) / 16;
    const q = this.quantileUs;
    const step = Math.max(1, q / 8);
    this.quantileUs = us > q ? Math.min(this.capUs, q + step) : Math.max(1, q - (step * kMissRate) / (1 - kMissRate));
    this.update();
  }

  /** It did not come within the `us` microseconds spun (the wait parked). */
  parked(us: number): void {
    if (us <= 0) return; // did not spin: says nothing
    if (us >= this.capUs) this.paying -= this.paying / 16;
    const q = this.quantileUs;
    this.quantileUs = Math.min(this.capUs, q + Math.max(1, q / 8));
    this.update();
  }

  /** The current budget, µs (for stats). */
  get currentUs(): number {
    return this.budgetUs;
  }

  private update(): void {
    this.budgetUs = this.paying >= 0.5 ? this.quantileUs : 0;
  }
}
