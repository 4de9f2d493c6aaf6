# Core tests: gradient, descent, replicas, end to end, reproducibility, errors.

# The gradient check runs against a float64 build of the library.
downhill_library(downhill_core_f64 ON)
add_executable(test_gradient unit/test_gradient.c)
target_link_libraries(test_gradient PRIVATE downhill_core_f64)
add_test(NAME test_gradient COMMAND test_gradient)

downhill_test(test_descent unit/test_descent.c)
# The fast kernels (input scaling, exact first-layer gradient) against plain loops.
downhill_test(test_kernels unit/test_kernels.c)
# The threads' spinning barrier, up to more threads than cores.
downhill_test(test_barrier unit/test_barrier.c)

add_executable(test_replicas mpi/test_replicas.c)
target_link_libraries(test_replicas PRIVATE downhill_core)
downhill_mpi_test(test_replicas_2 2 $<TARGET_FILE:test_replicas>)
downhill_mpi_test(test_replicas_3 3 $<TARGET_FILE:test_replicas>)

# The exact sums' allreduce on power-of-two rank counts and others (ranks folded in pairs),
# through the node's shared window and through messages only.
add_executable(test_comm mpi/test_comm.c)
target_link_libraries(test_comm PRIVATE downhill_core)
foreach(np 2 3 4 5 6 7)
  downhill_mpi_test(test_comm_${np} ${np} $<TARGET_FILE:test_comm>)
  # The point-to-point algorithm (what ranks on different nodes use) on the same counts.
  downhill_mpi_test(test_comm_messages_${np} ${np} $<TARGET_FILE:test_comm>)
  set_tests_properties(test_comm_messages_${np} PROPERTIES
                       ENVIRONMENT "${DOWNHILL_TEST_ENV};DOWNHILL_NODE_SUM=0")
endforeach()

add_executable(test_e2e mpi/test_e2e.c)
target_link_libraries(test_e2e PRIVATE downhill_core)
downhill_mpi_test(test_e2e_2 2 $<TARGET_FILE:test_e2e>)
downhill_mpi_test(test_e2e_1x2 1 $<TARGET_FILE:test_e2e>) # one rank, two threads (below)

# Bitwise reproducibility across ranks x threads, and every user error at 1 and 2 ranks.
add_test(NAME test_invariance
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/invariance.sh $<TARGET_FILE:downhill>
                 "${DOWNHILL_MPIEXEC}" "${MPIEXEC_NUMPROC_FLAG}")
add_test(NAME test_errors
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/errors.sh $<TARGET_FILE:downhill>
                 "${DOWNHILL_MPIEXEC}" "${MPIEXEC_NUMPROC_FLAG}")
set_tests_properties(test_invariance test_errors PROPERTIES
                     ENVIRONMENT "${DOWNHILL_TEST_ENV}" TIMEOUT 600)
set_tests_properties(test_e2e_2 test_replicas_2 test_replicas_3 test_invariance PROPERTIES
                     ENVIRONMENT "${DOWNHILL_TEST_ENV};FASHION_DIR=${FASHION_DIR}")
set_tests_properties(test_e2e_1x2 PROPERTIES
                     ENVIRONMENT "${DOWNHILL_TEST_ENV};FASHION_DIR=${FASHION_DIR};OMP_NUM_THREADS=2")

# Checkpoints and exact restart (resume on other shapes, SIGUSR1, kill -9, bad files).
add_test(NAME test_checkpoint
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/checkpoint.sh $<TARGET_FILE:downhill>
                 "${DOWNHILL_MPIEXEC}" "${MPIEXEC_NUMPROC_FLAG}")
set_tests_properties(test_checkpoint PROPERTIES TIMEOUT 900
                     ENVIRONMENT "${DOWNHILL_TEST_ENV};FASHION_DIR=${FASHION_DIR}")

# Phase timers in the run file add up to the epoch time; the plot script draws them.
add_test(NAME test_timing
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/timing.sh $<TARGET_FILE:downhill>
                 "${DOWNHILL_MPIEXEC}" "${MPIEXEC_NUMPROC_FLAG}" ${PROJECT_SOURCE_DIR})
set_tests_properties(test_timing PROPERTIES TIMEOUT 300
                     ENVIRONMENT "${DOWNHILL_TEST_ENV};FASHION_DIR=${FASHION_DIR}")

# `downhill bench` runs and prints every line bench/report.sh reads, well formed.
add_test(NAME test_bench COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/bench.sh $<TARGET_FILE:downhill>)
set_tests_properties(test_bench PROPERTIES TIMEOUT 300
                     ENVIRONMENT "${DOWNHILL_TEST_ENV};FASHION_DIR=${FASHION_DIR}")

# The scaling sweep (scripts/sweep.sh) on 1 and 2 ranks: CSV, identical weights, plot.
add_test(NAME test_sweep
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/sweep.sh $<TARGET_FILE:downhill>
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(test_sweep PROPERTIES TIMEOUT 300 ENVIRONMENT "${DOWNHILL_TEST_ENV}")

# The engine against the reference step (src/reference/step_ref.c), bit for bit, after every
# step: 1, 2, 4 ranks x 1, 2 threads, AMX tiles on and off.
add_executable(test_reference mpi/test_reference.c)
target_link_libraries(test_reference PRIVATE downhill_core)
foreach(shape 1x1 1x2 2x1 2x2 4x1)
  string(REPLACE "x" ";" pt ${shape})
  list(GET pt 0 np)
  list(GET pt 1 nt)
  foreach(amx 1 0)
    set(name test_reference_${shape})
    if(amx EQUAL 0)
      set(name ${name}_noamx)
    endif()
    downhill_mpi_test(${name} ${np} $<TARGET_FILE:test_reference>)
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT
      "${DOWNHILL_TEST_ENV};FASHION_DIR=${FASHION_DIR};OMP_NUM_THREADS=${nt};DOWNHILL_AMX=${amx}")
  endforeach()
endforeach()
