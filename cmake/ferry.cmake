# Platform settings shared by every ferry target: threads, warnings, and the
# Emscripten flags (pthreads, exceptions, Node-friendly output).
add_library(ferry_platform INTERFACE)

if(EMSCRIPTEN)
  # Emscripten's em++ runs acorn-optimizer.js, which needs Debian's node-acorn.
  set(_ferry_env ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_ferry_env})
  set(CMAKE_C_COMPILER_LAUNCHER ${_ferry_env})
  set(CMAKE_CXX_LINKER_LAUNCHER ${_ferry_env})
  # The repository's package.json says "type": "module", which would make Node
  # load Emscripten's CommonJS glue (*.js in this tree) as an ES module and fail
  # ("__filename is not defined"). The nearest package.json wins, so mark the
  # build tree CommonJS.
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/package.json CONTENT "{ \"type\": \"commonjs\" }\n")
  # Standalone Asio and moodycamel live in /usr/include, which em++ must never
  # see whole (it would shadow Emscripten's libc): expose just those headers.
  set(FERRY_WASM_SYSINCLUDE ${CMAKE_BINARY_DIR}/wasm-sysinclude)
  file(MAKE_DIRECTORY ${FERRY_WASM_SYSINCLUDE})
  foreach(_h asio.hpp asio concurrentqueue readerwriterqueue boost)
    if(EXISTS /usr/include/${_h} AND NOT EXISTS ${FERRY_WASM_SYSINCLUDE}/${_h})
      file(CREATE_LINK /usr/include/${_h} ${FERRY_WASM_SYSINCLUDE}/${_h} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(ferry_platform SYSTEM INTERFACE ${FERRY_WASM_SYSINCLUDE})
  # Every object (GoogleTest's too) must be built with atomics for shared memory.
  # -mtail-call: symmetric transfer between coroutines compiles to wasm tail calls.
  add_compile_options(-pthread -sDISABLE_EXCEPTION_CATCHING=0 -mtail-call)
  add_link_options(-pthread -sDISABLE_EXCEPTION_CATCHING=0)
  target_compile_options(ferry_platform INTERFACE -Wno-deprecated-experimental-coroutine)
  target_link_options(ferry_platform INTERFACE
    -sPTHREAD_POOL_SIZE=8 -sINITIAL_MEMORY=268435456 -sALLOW_MEMORY_GROWTH=1
    # Programs exit when main() returns; a module JavaScript keeps using
    # (target property FERRY_JS_MODULE, web/wasm) keeps its runtime.
    $<IF:$<BOOL:$<TARGET_PROPERTY:FERRY_JS_MODULE>>,-sEXIT_RUNTIME=0,-sEXIT_RUNTIME=1>
    -Wno-pthreads-mem-growth)
else()
  find_package(Threads REQUIRED)
  target_link_libraries(ferry_platform INTERFACE Threads::Threads)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # Asio 1.22 turns co_await on under clang only if <experimental/coroutine>
    # exists, which libstdc++ lacks; clang 14 with libstdc++'s <coroutine> works.
    target_compile_definitions(ferry_platform INTERFACE ASIO_HAS_CO_AWAIT=1)
  endif()
endif()

# Designated initialisers that leave fields at their defaults are the intended
# way to pass options (CallOptions, StreamOptions, ...).
target_compile_options(ferry_platform INTERFACE -Wall -Wextra -Wno-missing-field-initializers)
