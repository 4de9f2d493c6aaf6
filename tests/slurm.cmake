# jobs/*.sbatch against a real single-node SLURM that the test starts and stops itself
# (scripts/slurm-local.sh). Label `slurm`; skipped (exit 77) when SLURM is not installed
# (bash scripts/install-deps.sh --tests installs slurm-wlm and munge). Needs root.
# Runs alone: its time-limit scenario depends on wall-clock timing. About 3 minutes.
add_test(NAME test_slurm
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/slurm.sh $<TARGET_FILE:downhill>)
set_tests_properties(test_slurm PROPERTIES
                     LABELS slurm
                     SKIP_RETURN_CODE 77
                     RUN_SERIAL TRUE
                     TIMEOUT 600
                     ENVIRONMENT "FASHION_DIR=${FASHION_DIR}")

# `cmake --install` to a temporary prefix, `module load downhill` (Lmod) in a clean shell, a
# training, the plots, the sweep and the installed train.sbatch on a local SLURM. Label
# `install`; skipped (77) without Lmod or SLURM. Needs root (the SLURM fixture).
add_test(NAME test_install
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/install.sh ${PROJECT_BINARY_DIR})
set_tests_properties(test_install PROPERTIES LABELS install SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
                     TIMEOUT 300 ENVIRONMENT "FASHION_DIR=${FASHION_DIR}")

# jobs/*.sbatch across nodes on a real four-node SLURM on simulated hosts that the test
# starts and stops itself (scripts/slurm-multi.sh): 2- and 4-node trainings under both
# launchers, the scaling job on 1, 2, 4 nodes, a USR1 requeue, a requeue onto fewer nodes,
# a rank killed on the second node. Label `slurm`; skipped (77) without SLURM, root or
# network namespaces. Runs alone (timing-sensitive, and it starts daemons). 2-3 minutes.
add_test(NAME test_slurm_multi
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scenario/slurm_multi.sh $<TARGET_FILE:downhill>)
set_tests_properties(test_slurm_multi PROPERTIES
                     LABELS slurm
                     SKIP_RETURN_CODE 77
                     RUN_SERIAL TRUE
                     TIMEOUT 600
                     ENVIRONMENT "FASHION_DIR=${FASHION_DIR}")
