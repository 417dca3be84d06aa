// The translation unit that builds the tests' precompiled header
// (tests/support/CMakeLists.txt, inprof_test_pch): CMake compiles the header
// for a target with at least one source, and this is that source. It defines
// nothing.
