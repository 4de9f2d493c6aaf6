downhill_test(test_config test_config.c)
