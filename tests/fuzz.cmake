# Fuzz targets (tests/fuzz/): the IDX reader, the config parser and the HDF5 readers.
# With any compiler: replay_<target> runs the committed seed corpus once (CTest, label fuzz).
# With clang and DOWNHILL_SANITIZE=ON: also fuzz_<target>, the libFuzzer binaries
# (scripts/fuzz.sh builds and runs them; it adds -fsanitize=fuzzer-no-link for coverage).

set(DOWNHILL_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR}/fuzz)
set(DOWNHILL_FUZZ_TARGETS idx config h5)

foreach(target IN LISTS DOWNHILL_FUZZ_TARGETS)
  set(harness ${DOWNHILL_FUZZ_DIR}/fuzz_${target}.c)
  add_executable(replay_${target} ${DOWNHILL_FUZZ_DIR}/replay.c ${harness})
  target_link_libraries(replay_${target} PRIVATE downhill_core)
  target_compile_options(replay_${target} PRIVATE ${DOWNHILL_WARNINGS})
  add_test(NAME replay_${target}
           COMMAND replay_${target} ${DOWNHILL_FUZZ_DIR}/corpus/${target})
  set_tests_properties(replay_${target} PROPERTIES LABELS fuzz TIMEOUT 300
                       ENVIRONMENT "LSAN_OPTIONS=suppressions=${DOWNHILL_FUZZ_DIR}/lsan.supp")

  if(CMAKE_C_COMPILER_ID STREQUAL "Clang" AND DOWNHILL_SANITIZE)
    add_executable(fuzz_${target} ${harness})
    target_link_libraries(fuzz_${target} PRIVATE downhill_core)
    target_compile_options(fuzz_${target} PRIVATE ${DOWNHILL_WARNINGS} -fsanitize=fuzzer)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()

# the HDF5 target counts open HDF5 handles, so it needs HDF5's headers
foreach(t replay_h5 fuzz_h5)
  if(TARGET ${t})
    target_include_directories(${t} PRIVATE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
  endif()
endforeach()

# scripts/fuzz.sh tells crashes inside libhdf5 from ours; recorded logs check that triage
add_test(NAME fuzz_triage COMMAND bash ${DOWNHILL_FUZZ_DIR}/triage.sh)
set_tests_properties(fuzz_triage PROPERTIES LABELS fuzz)
