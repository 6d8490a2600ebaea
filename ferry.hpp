// ferry: the umbrella header for users — tasks (FERRY_EXPORT), pools, calls
// and streams. Running coroutines on an Executor of your own is
// workers/executor.hpp; awaiting Asio operations is workers/asio_interop.hpp.
// Include the layer headers directly when you want less.
#pragma once

#include "core/codec.hpp"
#include "core/error.hpp"
#include "stream/stream.hpp"
#include "workers/pool.hpp"
#include "workers/registry.hpp"
#include "workers/task.hpp"
