// ferry browser benchmarks: ferry's WorkerPool (JavaScript workers and C++
// workers in the wasm module) against raw postMessage (structured clone and
// transferred ArrayBuffers), Comlink and workerpool, on the same work, in one
// page run. bench/browser/run.mjs loads this page in headless Chromium and
// calls runBench(); the result has the shape of bench_harness.hpp's JSON
// (tables of rows with results and ratios) so bench/report.mjs merges it with
// the native runs.
//
// Every result is checked (sums, checksums, echoes, counts); a wrong one is a
// problem the runner reports (and fails on with --smoke).
//
// The parts, one module per concern: harness.js (rows, statistics, the run's
// state, timed repetitions), contenders.js (the pools and baselines every case
// uses), then one module per family of cases: engine.js (what the engine
// itself charges), latency.js (calls: latency, in flight, wake-up strategies,
// one core busy), streams.js (stream throughput, small values, backpressure),
// buffers.js (buffers and large values), marshalling.js, memory.js.
import { buffers, largeDefault } from '/bench/buffers.js';
import { setUp, tearDown } from '/bench/contenders.js';
import { engineCosts } from '/bench/engine.js';
import { Run } from '/bench/harness.js';
import { busyCore, callLatency, callsInFlight, wakeStrategies } from '/bench/latency.js';
import { marshalling } from '/bench/marshalling.js';
import { memory } from '/bench/memory.js';
import { backpressure, smallStreams, streamThroughput } from '/bench/streams.js';

function environment() {
  const ua = navigator.userAgent;
  const ff = /Firefox\/([\d.]+)/.exec(ua);
  const m = ff ?? /(?:Headless)?Chrom(?:e|ium)\/([\d.]+)/.exec(ua);
  return {
    platform: `${ff ? 'Firefox' : 'Chromium'} ${m ? m[1] : '?'} (${/Headless/.test(ua) ? 'headless, ' : ''}crossOriginIsolated ${String(globalThis.crossOriginIsolated)})`,
    compiler: 'ferry web package (/dist) and ferry_web.wasm (em++); Comlink, workerpool from node_modules',
    cores: navigator.hardwareConcurrency,
    build_type: 'Release',
    ndebug: true,
  };
}

export async function runBench(opts = {}) {
  const t0 = performance.now();
  const run = new Run(opts);
  if (!globalThis.crossOriginIsolated) run.problems.push('the page is not cross-origin isolated: SharedArrayBuffer and Atomics.waitAsync are missing');
  const ringCapacity = opts.quick ? 1 << 20 : 32 << 20;  // 16 MiB buffers through the ring need 32 MiB rings
  await setUp(run, { ringCapacity });
  const cases = { engine: engineCosts, latency: callLatency, inflight: callsInFlight, wake: wakeStrategies, busy: busyCore, streams: streamThroughput, small: smallStreams, buffers, large: largeDefault, marshalling, backpressure, memory };
  for (const [name, fn] of Object.entries(cases)) {
    if (opts.only && !opts.only.includes(name)) continue;
    await run.guard(`case ${name}`, () => fn(run));
  }
  await run.guard('tear down', () => tearDown(run));
  return {
    benchmark: 'browser_bench',
    env: environment(),
    settings: { quick: run.quick ? 'true' : 'false', reps: String(run.reps), ring_capacity: String(ringCapacity),
                total_seconds: ((performance.now() - t0) / 1000).toFixed(2) },
    tables: run.tables,
    problems: run.problems,
    skipped: run.skipped,
  };
}

globalThis.runBench = runBench;
globalThis.benchReady = true;
