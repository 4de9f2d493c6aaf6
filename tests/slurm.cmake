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
