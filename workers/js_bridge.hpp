// ferry workers: the bridge that lets JavaScript drive a WorkerPool compiled
// to wasm (web/PROTOCOL.md). Link workers/js_bridge.cpp into the module; the
// TypeScript WorkerPool (web/src/wasm-backend.ts) calls its C exports.
//
// SharedBytes is how a C++ task takes a buffer without copying it: the
// JavaScript caller leases a block of the module's memory (a WasmBuffer),
// fills it in place and passes it; the task reads (or writes) it in place.
// The lease is the caller's: the task must not keep the view after it
// returns.
#pragma once

#include "../core/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace ferry {

struct SharedBytes {
  std::uint32_t address = 0;  // byte offset in the module's memory
  std::uint32_t size = 0;
  std::span<std::byte> view() const noexcept {
    return {reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(address)), size};
  }
};
FERRY_STRUCT(SharedBytes, address, size)

}  // namespace ferry
