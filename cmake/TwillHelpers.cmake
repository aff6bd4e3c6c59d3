# twill_library(<area> SOURCES ... DEPS ...): the library of lib/<area>, target twill_<area>.
function(twill_library area)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(twill_${area} STATIC ${ARG_SOURCES})
  target_include_directories(twill_${area} PUBLIC ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(twill_${area} PUBLIC ${ARG_DEPS})
endfunction()

# twill_test(<name> LABELS ... SOURCES ... DEPS ... [TIMEOUT s]): a GoogleTest binary, one
# CTest test. A binary that calls GTEST_SKIP (for instance because it needs root and runs
# without it) is reported by CTest as skipped, never as passed, so keep tests that may skip
# in binaries of their own.
function(twill_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LABELS;SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    LABELS "${ARG_LABELS}"
    TIMEOUT ${ARG_TIMEOUT}
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
    ENVIRONMENT "TWILL_BUILD_DIR=${CMAKE_BINARY_DIR};TWILL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
