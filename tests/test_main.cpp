// The one Catch2 main shared by every test executable (compiled once into pal_test_main).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
