downhill_test(test_config unit/test_config.c)
