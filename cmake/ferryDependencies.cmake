# What ferry's targets need from the system, found the same way by ferry's
# own build (CMakeLists.txt) and by an installed package (ferryConfig.cmake):
#
#   ferry_find_asio(<out-var>)  standalone Asio's include directory for
#                               ferry's targets ("" when the compiler already
#                               searches it); a clear error when Asio is missing
#   ferry_emscripten_link_env() under Emscripten, lets em++ find Debian's acorn
#                               when it links (NODE_PATH)
#
# ferry's headers need only Asio besides the standard library (moodycamel's
# queues are baselines of ferry's benchmarks, not used by the headers).
include_guard(GLOBAL)

function(ferry_find_asio out)
  # Emscripten confines find_* to its sysroot; Debian's libasio-dev installs
  # into /usr/include, so look there too (never add /usr/include itself, see below).
  find_path(FERRY_ASIO_INCLUDE_DIR asio.hpp
    HINTS ENV ASIO_ROOT
    PATH_SUFFIXES include
    PATHS /usr /usr/local
    NO_CMAKE_FIND_ROOT_PATH
    DOC "Folder holding standalone Asio's asio.hpp (Debian: libasio-dev)")
  if(NOT FERRY_ASIO_INCLUDE_DIR)
    message(FATAL_ERROR
      "ferry needs standalone Asio (the header asio.hpp), which was not found.\n"
      "  Debian/Ubuntu: apt-get install libasio-dev\n"
      "  elsewhere: -DFERRY_ASIO_INCLUDE_DIR=<folder holding asio.hpp> (or set ASIO_ROOT)")
  endif()
  set(dir ${FERRY_ASIO_INCLUDE_DIR})
  if(EMSCRIPTEN AND dir MATCHES "^/usr(/local)?/include/?$")
    # em++ must never see /usr/include whole (its headers would shadow
    # Emscripten's libc): expose only Asio, through links in the build tree.
    set(links ${CMAKE_BINARY_DIR}/ferry-wasm-sysinclude)
    file(MAKE_DIRECTORY ${links})
    foreach(entry asio.hpp asio)
      if(NOT EXISTS ${links}/${entry})
        file(CREATE_LINK ${dir}/${entry} ${links}/${entry} SYMBOLIC)
      endif()
    endforeach()
    set(dir ${links})
  elseif(dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    set(dir "")  # the compiler searches it already (-isystem /usr/include would break #include_next)
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

function(ferry_emscripten_link_env)
  if(NOT EMSCRIPTEN)
    return()
  endif()
  # em++ runs tools/acorn-optimizer.js when it links. emsdk ships acorn in
  # Emscripten's node_modules; Debian's emscripten package relies on
  # node-acorn in /usr/share/nodejs instead, which node finds only through
  # NODE_PATH ("Cannot find module 'acorn'"). Link launchers are per target,
  # so the rule launcher covers every target of the project, ferry's or not.
  if(EXISTS "${EMSCRIPTEN_ROOT_PATH}/node_modules/acorn" OR NOT EXISTS /usr/share/nodejs/acorn)
    return()
  endif()
  set(env "${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs")
  get_property(launch GLOBAL PROPERTY RULE_LAUNCH_LINK)
  if(NOT launch MATCHES "NODE_PATH=")
    set_property(GLOBAL PROPERTY RULE_LAUNCH_LINK "${env} ${launch}")
  endif()
endfunction()
