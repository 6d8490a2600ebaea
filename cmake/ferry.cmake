# Settings of ferry's own tests, benchmarks and examples (the top-level
# build only; what users get is ferry::ferry, CMakeLists.txt):
#
#   ferry_internal  the repository root as include root ("core/ring.hpp",
#                   "tests/...", "bench/..."), ferry's warnings, and under
#                   Emscripten what the test programs were tuned with
#   ferry_core      ferry::ferry + ferry_internal: what a test links
add_library(ferry_internal INTERFACE)
target_include_directories(ferry_internal INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_options(ferry_internal INTERFACE ${FERRY_WARNINGS})

if(EMSCRIPTEN)
  # The repository's package.json says "type": "module", which would make Node
  # load Emscripten's CommonJS glue (*.js in this tree) as an ES module and fail
  # ("__filename is not defined"). The nearest package.json wins, so mark the
  # build tree CommonJS.
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/package.json CONTENT "{ \"type\": \"commonjs\" }\n")
  # The benchmarks' baselines (moodycamel, Boost.Lockfree) live in
  # /usr/include too, which em++ must never see whole: links to just those.
  set(_sysinclude ${CMAKE_BINARY_DIR}/ferry-wasm-sysinclude)
  file(MAKE_DIRECTORY ${_sysinclude})
  foreach(_h concurrentqueue readerwriterqueue boost)
    if(EXISTS /usr/include/${_h} AND NOT EXISTS ${_sysinclude}/${_h})
      file(CREATE_LINK /usr/include/${_h} ${_sysinclude}/${_h} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(ferry_internal SYSTEM INTERFACE ${_sysinclude})
  # Every object (GoogleTest's too) must be built with atomics for shared memory.
  add_compile_options(-pthread -sDISABLE_EXCEPTION_CATCHING=0 -mtail-call)
  add_link_options(-pthread -sDISABLE_EXCEPTION_CATCHING=0)
  # The test programs create and destroy many pools: 8 prewarmed pthread
  # Workers and 256 MiB up front (users' programs make threads on demand and
  # start at 16 MiB).
  target_link_options(ferry_internal INTERFACE
    $<$<NOT:$<BOOL:$<TARGET_PROPERTY:FERRY_JS_MODULE>>>:-sPTHREAD_POOL_SIZE=8;-sINITIAL_MEMORY=268435456>)
endif()

add_library(ferry_core INTERFACE)
target_link_libraries(ferry_core INTERFACE ferry ferry_internal)
