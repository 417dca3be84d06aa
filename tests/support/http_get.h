// A GET that the test expects to succeed: a failure (no answer, or not 200)
// is recorded and "" returned, so that a test polling a list goes on.
#ifndef INPROF_TESTS_SUPPORT_HTTP_GET_H_
#define INPROF_TESTS_SUPPORT_HTTP_GET_H_

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

namespace inprof::test {

inline std::string GetOk(httplib::Client& client, const std::string& path) {
  httplib::Result r = client.Get(path);
  EXPECT_TRUE(r) << path;
  if (!r) return "";
  EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  return r->body;
}

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_HTTP_GET_H_
