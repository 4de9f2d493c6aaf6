# h5io tests: run files, input files and h5_info (single process). The test reads the files
# back with the HDF5 API itself, so it needs HDF5's headers (downhill_core keeps them private).
downhill_test(test_h5io unit/test_h5io.c)
target_include_directories(test_h5io PRIVATE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
