# Builds this same source tree with Emscripten into ${CMAKE_BINARY_DIR}/wasm
# and registers each wasm test binary with this (native) tree's ctest, so one
# `cmake --build` + `ctest` covers both. Included by the root CMakeLists.txt
# when FERRY_WASM_TESTS=ON on a native build.
include(ExternalProject)

set(FERRY_EMSCRIPTEN_TOOLCHAIN /usr/share/emscripten/cmake/Modules/Platform/Emscripten.cmake
  CACHE FILEPATH "Emscripten's CMake toolchain file (Debian's emscripten package)")
set(FERRY_WASM_JOBS 2 CACHE STRING "Parallel jobs of the nested Emscripten build")
find_program(FERRY_NODE node REQUIRED)

if(NOT EXISTS ${FERRY_EMSCRIPTEN_TOOLCHAIN})
  message(FATAL_ERROR "FERRY_WASM_TESTS needs Emscripten: ${FERRY_EMSCRIPTEN_TOOLCHAIN} "
    "not found (apt-get install emscripten, or run scripts/ensure-deps.sh)")
endif()

set(FERRY_WASM_DIR ${CMAKE_BINARY_DIR}/wasm)
# em++ links by running acorn-optimizer.js, which needs Debian's node-acorn.
set(_ferry_wasm_env ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)

# The nested build runs its own Ninja with FERRY_WASM_JOBS jobs. So that the
# two builds together stay within the machine's cores, it starts only once
# every native target that `all` builds is done.
function(_ferry_collect_native_targets dir out)
  set(found)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    get_target_property(excluded ${t} EXCLUDE_FROM_ALL)
    if(type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY)$"
       AND NOT excluded)
      list(APPEND found ${t})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _ferry_collect_native_targets(${sub} sub_found)
    list(APPEND found ${sub_found})
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()
_ferry_collect_native_targets(${PROJECT_SOURCE_DIR} _ferry_native_targets)

ExternalProject_Add(ferry_wasm
  SOURCE_DIR ${PROJECT_SOURCE_DIR}
  BINARY_DIR ${FERRY_WASM_DIR}
  PREFIX ${CMAKE_BINARY_DIR}/wasm-subbuild
  DOWNLOAD_COMMAND ""
  UPDATE_COMMAND ""
  CONFIGURE_COMMAND ${_ferry_wasm_env} ${CMAKE_COMMAND}
    -G Ninja -S <SOURCE_DIR> -B <BINARY_DIR>
    -DCMAKE_TOOLCHAIN_FILE=${FERRY_EMSCRIPTEN_TOOLCHAIN}
    -DCMAKE_BUILD_TYPE=Release
    -DFERRY_WASM_TESTS=OFF
    -DFERRY_FUZZ=OFF
    -DFERRY_TESTS=${FERRY_TESTS}
    -DFERRY_BENCH=${FERRY_BENCH}
  # Ninja inside the nested tree decides what is stale; this just runs it.
  # -k 0: one module that fails to compile must not keep the others (and
  # their tests) from being built; the step still fails.
  BUILD_COMMAND ${_ferry_wasm_env} ${CMAKE_COMMAND} --build <BINARY_DIR> --parallel ${FERRY_WASM_JOBS} -- -k 0
  BUILD_ALWAYS ON
  INSTALL_COMMAND ""
  TEST_COMMAND ""
  USES_TERMINAL_CONFIGURE ON
  USES_TERMINAL_BUILD ON
  DEPENDS ${_ferry_native_targets}
)

if(FERRY_TESTS)
  # Same glob as tests/CMakeLists.txt: one wasm module per tests/*_test.cpp.
  file(GLOB _ferry_wasm_test_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/*_test.cpp)
  foreach(src ${_ferry_wasm_test_sources})
    get_filename_component(name ${src} NAME_WE)
    # Node runs the module; the glue must not try fetch() on a file path.
    add_test(NAME wasm.${name}
      COMMAND ${FERRY_NODE} --no-experimental-fetch ${FERRY_WASM_DIR}/tests/${name}.js)
    set_tests_properties(wasm.${name} PROPERTIES LABELS wasm)
  endforeach()
endif()
