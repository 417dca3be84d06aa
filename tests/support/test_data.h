// Paths to checked-in test inputs under tests/testdata/. The source tree's
// location is compiled in by the inprof_test_support target
// (INPROF_SOURCE_DIR), so tests run from any working directory.
#ifndef INPROF_TESTS_SUPPORT_TEST_DATA_H_
#define INPROF_TESTS_SUPPORT_TEST_DATA_H_

#include <string>
#include <string_view>

namespace inprof::test {

// Returns the absolute path of tests/testdata/<relative>.
inline std::string TestDataPath(std::string_view relative) {
  return std::string(INPROF_SOURCE_DIR) + "/tests/testdata/" +
         std::string(relative);
}

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_TEST_DATA_H_
