downhill_test(test_data test_data.c)
