// ferry bench: a small harness that builds natively and with Emscripten.
//
// Google Benchmark does not build for wasm, so the ring benchmark brings its
// own: calibrate a run to a target duration (that also warms up), repeat it,
// report the median and the spread, and print a table (case, ferry, each
// baseline, ratio, note) under a header naming the platform, compiler, cores
// and build type. Results can also be written as JSON for the report
// generator.
//
// The parts, in the order they build on each other: harness/basics.hpp
// (clock, threads, fail, statistics), harness/report.hpp (environment, tables,
// JSON), harness/runs.hpp (command line, calibrated runs), harness/rings.hpp
// (raw rings and round trips as baselines).
#pragma once

#include "core/ring.hpp"

#include "core/wait.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__EMSCRIPTEN__)
#include <emscripten.h>
#endif

#include "bench/harness/basics.hpp"
#include "bench/harness/report.hpp"
#include "bench/harness/runs.hpp"
#include "bench/harness/rings.hpp"
