# CMake helpers for programs and modules that use ferry (shipped with the
# package; find_package(ferry) and add_subdirectory(ferry) both provide them).
#
#   ferry_add_wasm_module(<target> SOURCES <file>... [TASK_LIBRARIES <lib>...]
#                         [EXPORT_NAME <name>])
#     Emscripten only. Builds <target>.js / .wasm / .worker.js: your
#     FERRY_EXPORT / FERRY_EXPORT_STREAM tasks plus ferry's JavaScript bridge,
#     a module that @ferry/web loads with WorkerPool.create({ module:
#     '<url of target>.js' }). EXPORT_NAME is the factory the glue script
#     defines (default createFerryWeb, what WorkerPool looks for; another name
#     goes in its `factory` option). The module starts the threads a pool asks
#     for (WorkerPool.create prewarms workers + 2: a host and a monitor thread
#     besides the workers; threads tasks start come on demand) and its memory
#     starts at 16 MiB and grows.
#
#   ferry_link_tasks(<target> <library>...)
#     Links static libraries whose tasks must all be kept. A linker takes an
#     object out of a static library only when something refers to it, and
#     nothing refers to a FERRY_EXPORT (it registers itself at start-up), so
#     a task in a static library linked the normal way is dropped and the
#     pool answers UnknownTask. This links them whole (WHOLE_ARCHIVE), for
#     native programs and wasm modules alike. Object libraries need nothing.
#
# A plain executable that links ferry::ferry under Emscripten gets what a
# program run under Node needs (ferry::ferry's usage requirements): pthreads,
# exceptions, tail calls, memory growth, main() on a pthread
# (-sPROXY_TO_PTHREAD, so that main() may block while threads are created)
# and an exit when main() returns.
include_guard(GLOBAL)

# CMake 3.24+ knows WHOLE_ARCHIVE for GNU-style linkers on Linux; its
# Emscripten platform does not say so, though wasm-ld takes the same flags.
# In the cache, so that every directory's targets see it.
if(EMSCRIPTEN AND NOT CMAKE_LINK_LIBRARY_USING_WHOLE_ARCHIVE_SUPPORTED)
  set(CMAKE_LINK_LIBRARY_USING_WHOLE_ARCHIVE "LINKER:--whole-archive" "<LINK_ITEM>" "LINKER:--no-whole-archive" CACHE INTERNAL "")
  set(CMAKE_LINK_LIBRARY_USING_WHOLE_ARCHIVE_SUPPORTED TRUE CACHE INTERNAL "")
endif()

# Keep in step with the EMSCRIPTEN_KEEPALIVE functions of workers/js_bridge.cpp.
set(FERRY_JS_BRIDGE_EXPORTS _ferry_js_pool_start _ferry_js_pool_stop _ferry_js_alloc _ferry_js_free _ferry_js_heap_stats)

function(ferry_add_wasm_module target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "EXPORT_NAME" "SOURCES;TASK_LIBRARIES")
  if(NOT EMSCRIPTEN)
    message(FATAL_ERROR "ferry_add_wasm_module(${target}): wasm modules need an Emscripten build "
      "(emcmake cmake ..., or -DCMAKE_TOOLCHAIN_FILE=<emscripten>/cmake/Modules/Platform/Emscripten.cmake)")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ferry_add_wasm_module(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS} "
      "(expected SOURCES <file>... [TASK_LIBRARIES <lib>...] [EXPORT_NAME <name>])")
  endif()
  if(NOT arg_SOURCES AND NOT arg_TASK_LIBRARIES)
    message(FATAL_ERROR "ferry_add_wasm_module(${target}): give the sources of its tasks (SOURCES) or the libraries holding them (TASK_LIBRARIES)")
  endif()
  if(NOT DEFINED arg_EXPORT_NAME)
    set(arg_EXPORT_NAME createFerryWeb)
  endif()
  if(NOT arg_EXPORT_NAME MATCHES "^[A-Za-z_$][A-Za-z0-9_$]*$")
    message(FATAL_ERROR "ferry_add_wasm_module(${target}): EXPORT_NAME '${arg_EXPORT_NAME}' is not a JavaScript identifier")
  endif()
  if(NOT FERRY_JS_BRIDGE_SOURCE)
    message(FATAL_ERROR "ferry_add_wasm_module(${target}): FERRY_JS_BRIDGE_SOURCE is not set (load ferry with find_package(ferry) or add_subdirectory first)")
  endif()

  add_executable(${target} ${arg_SOURCES} ${FERRY_JS_BRIDGE_SOURCE})
  target_link_libraries(${target} PRIVATE ferry::ferry)
  if(arg_TASK_LIBRARIES)
    ferry_link_tasks(${target} ${arg_TASK_LIBRARIES})
  endif()
  # FERRY_JS_MODULE: ferry::ferry's usage requirements then leave out what
  # only programs want (main() on a pthread, exiting when main() returns).
  set_target_properties(${target} PROPERTIES FERRY_JS_MODULE ON)
  list(JOIN FERRY_JS_BRIDGE_EXPORTS "," exports)
  target_link_options(${target} PRIVATE
    # No main(): JavaScript calls the bridge, and the runtime stays up for
    # as long as the page uses the module.
    --no-entry -sEXIT_RUNTIME=0
    # The page (or Node, or a Web Worker) calls the factory and gets the module.
    -sMODULARIZE=1 -sEXPORT_NAME=${arg_EXPORT_NAME} -sENVIRONMENT=web,worker,node
    -sEXPORTED_FUNCTIONS=${exports} -sEXPORTED_RUNTIME_METHODS=UTF8ToString
    # Threads: as many Workers prewarmed as the factory's `ferryThreads`
    # asks for (WorkerPool.create passes workers + 2), loaded in the
    # background (the module does not wait for them), any more made on demand.
    -sPTHREAD_POOL_SIZE=Module.ferryThreads -sPTHREAD_POOL_DELAY_LOAD=1 -sPTHREAD_POOL_SIZE_STRICT=0)
  # Node loads the glue with require(): say it is CommonJS even where the
  # nearest package.json says "type": "module".
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DFERRY_COMMONJS_DIR=$<TARGET_FILE_DIR:${target}> -P ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
    VERBATIM)
endfunction()

function(ferry_link_tasks target)
  if(NOT ARGN)
    message(FATAL_ERROR "ferry_link_tasks(${target}): name the static libraries whose tasks to keep")
  endif()
  foreach(lib IN LISTS ARGN)
    target_link_libraries(${target} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${lib}>")
  endforeach()
endfunction()

# Script mode (the POST_BUILD step above): marks a module's folder CommonJS.
if(CMAKE_SCRIPT_MODE_FILE AND DEFINED FERRY_COMMONJS_DIR AND NOT EXISTS "${FERRY_COMMONJS_DIR}/package.json")
  file(WRITE "${FERRY_COMMONJS_DIR}/package.json" "{ \"type\": \"commonjs\" }\n")
endif()
