# The communication model (issue 7): label `comm` checks the alpha-beta model against
# shared-memory measurements at 2 ranks; label `simhosts` runs across 2 simulated hosts
# (network namespaces, TCP at 1 Gbit/s) and skips (code 77) where namespaces are not
# allowed. Both through tests/comm.sh; tolerances are stated there.
find_program(BASH_PROGRAM bash REQUIRED)
foreach(mode comm simhosts)
  add_test(NAME comm_${mode}
           COMMAND ${BASH_PROGRAM} ${CMAKE_CURRENT_SOURCE_DIR}/scenario/comm.sh ${mode}
                   $<TARGET_FILE:downhill> ${PROJECT_SOURCE_DIR}
                   ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG}
                   ${DOWNHILL_MPIEXEC_EXTRA} ${MPIEXEC_PREFLAGS})
  set_tests_properties(comm_${mode} PROPERTIES LABELS ${mode}
                       ENVIRONMENT "${DOWNHILL_TEST_ENV};FASHION_DIR=${FASHION_DIR}"
                       SKIP_RETURN_CODE 77 TIMEOUT 180)
endforeach()
# Both start MPI jobs that compete for the cores: never run them at the same time.
set_tests_properties(comm_comm comm_simhosts PROPERTIES RESOURCE_LOCK mpi_cores)
