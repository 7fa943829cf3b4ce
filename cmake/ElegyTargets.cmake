# elegy_layer(NAME SOURCES...): one library per layer with the project's warnings, sanitizer
# flags and include layout.
function(elegy_layer name)
  add_library(${name} ${ARGN})
  add_library(elegy::${name} ALIAS ${name})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${ELEGY_INCLUDE_ROOT}>
                                            $<INSTALL_INTERFACE:include>)
  target_compile_features(${name} PUBLIC cxx_std_20)
  elegy_warnings(${name})
  if(ELEGY_WITH_CUDA)
    target_compile_definitions(${name} PUBLIC ELEGY_WITH_CUDA)
  endif()
  # $ORIGIN: an installed layer finds the layers it links next to itself.
  set_target_properties(${name} PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                                           INSTALL_RPATH "$ORIGIN")
endfunction()

function(elegy_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>)
endfunction()

if(ELEGY_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=undefined>)
  add_link_options(-fsanitize=address,undefined)
endif()

# ELEGY_BUILD_FUZZERS: the whole library gets libFuzzer's coverage instrumentation and the
# sanitizers, so a harness sees (and reports) what happens inside the readers; each harness in
# tests/fuzz/ then links libFuzzer's main with -fsanitize=fuzzer.
if(ELEGY_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ELEGY_BUILD_FUZZERS needs clang (libFuzzer ships with it), not "
                        "${CMAKE_CXX_COMPILER_ID}: configure with CC=clang CXX=clang++")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link,address,undefined>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=undefined>)
  add_link_options(-fsanitize=address,undefined)
endif()
