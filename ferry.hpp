// ferry: the umbrella header for users. Include the layer headers directly
// when you want less.
#pragma once

#include "core/error.hpp"
#include "core/codec.hpp"
#include "stream/stream.hpp"
#include "workers/task.hpp"
#include "workers/executor.hpp"
#include "workers/asio_interop.hpp"
#include "workers/registry.hpp"
#include "workers/pool.hpp"
