downhill_test(test_data unit/test_data.c)
