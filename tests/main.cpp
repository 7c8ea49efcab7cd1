// The single Boost.Test runner; every tests/**/test_*.cpp adds one suite named after its file.
#define BOOST_TEST_MODULE modnorm
#include <boost/test/unit_test.hpp>
