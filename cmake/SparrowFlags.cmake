# Compiler flags shared by every Sparrow target, and the sanitizer switch.
# -Wno-missing-field-initializers: settings structs are built with designated initializers
# (STYLE.md), where omitted members take their defaults by design.
add_compile_options(-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
                    -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 false positives inside libstdc++/nlohmann headers at -O2/-O3.
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>
                      $<$<COMPILE_LANGUAGE:CXX>:-Wno-stringop-overflow>
                      $<$<COMPILE_LANGUAGE:CXX>:-Wno-array-bounds>)
endif()

if(SPARROW_SANITIZE)
  string(REPLACE ";" "," _sanitizers "${SPARROW_SANITIZE}")
  message(STATUS "Sparrow: sanitizers ${_sanitizers}")
  add_compile_options(-fsanitize=${_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_sanitizers})
endif()

if(SPARROW_FAILPOINTS)
  add_compile_definitions(SPARROW_FAILPOINTS=1)
endif()

# sparrow_test(NAME name SOURCES ... LIBS ...): a GoogleTest binary registered with ctest.
function(sparrow_test)
  # RUN_SERIAL: ctest runs these tests alone (no other test at the same time), for tests
  # whose timing assumptions a CPU starved by parallel tests would break (chaos scenarios).
  cmake_parse_arguments(T "RUN_SERIAL" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT SPARROW_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  set(_serial FALSE)
  if(T_RUN_SERIAL)
    set(_serial TRUE)
  endif()
  gtest_discover_tests(${T_NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}" RUN_SERIAL ${_serial})
endfunction()
