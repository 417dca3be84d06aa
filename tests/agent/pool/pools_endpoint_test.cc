// /debug/pools (JSON and text) and the pools' /metrics families, served by a
// running agent for pools the program uses.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <optional>
#include <string>

#include "inprof/agent.h"
#include "inprof/pool.h"

namespace inprof {
namespace {

using ::testing::HasSubstr;

struct Buffer {
  char bytes[256] = {};
};

std::string Fetch(const Agent& agent, const std::string& path,
                  int* status = nullptr, std::string* type = nullptr) {
  httplib::Client client("127.0.0.1", agent.port());
  httplib::Result result = client.Get(path.c_str());
  if (!result) return "";
  if (status != nullptr) *status = result->status;
  if (type != nullptr) *type = result->get_header_value("Content-Type");
  return result->body;
}

class PoolsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.port = 0;
    StatusOr<Agent> started = Agent::Start(options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    agent_.emplace(std::move(*started));
  }
  std::optional<Agent> agent_;
};

TEST_F(PoolsEndpointTest, JsonTextAndMetricsShowEachPool) {
  Pool<Buffer> buffers("rpc_buffers");
  Pool<Buffer> idle("idle_pool");
  { PoolPtr<Buffer> a = buffers.Get(), b = buffers.Get(); }
  for (int i = 0; i < 8; ++i) {
    PoolPtr<Buffer> again = buffers.Get();
  }
  PoolPtr<Buffer> held = buffers.Get();  // one in use

  int status = 0;
  std::string type;
  const std::string json = Fetch(*agent_, "/debug/pools", &status, &type);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(type, "application/json");
  EXPECT_THAT(json, HasSubstr("{\"name\": \"rpc_buffers\", \"created\": 2, "
                              "\"acquired\": 11, \"released\": 10, "
                              "\"in_use\": 1, \"idle\": 1, \"high_water\": 2, "
                              "\"dropped\": 0, \"misuses\": 0, "
                              "\"reuse_ratio\": 5.50}"));
  EXPECT_THAT(json, HasSubstr("\"name\": \"idle_pool\", \"created\": 0"));

  const std::string text =
      Fetch(*agent_, "/debug/pools?format=text", &status, &type);
  EXPECT_EQ(status, 200);
  EXPECT_THAT(type, HasSubstr("text/plain"));
  EXPECT_THAT(text, HasSubstr("pool         created  acquired  released  "
                              "in_use  idle  high_water  dropped  misuses  "
                              "reuse_ratio\n"));
  EXPECT_THAT(text, HasSubstr("rpc_buffers        2        11        10       "
                              "1     1           2        0        0         "
                              "5.50\n"));

  Fetch(*agent_, "/debug/pools?format=xml", &status);
  EXPECT_EQ(status, 400);

  const std::string metrics = Fetch(*agent_, "/metrics");
  EXPECT_THAT(
      metrics,
      HasSubstr("inprof_pool_acquired_total{pool=\"rpc_buffers\"} 11\n"));
  EXPECT_THAT(
      metrics,
      HasSubstr("inprof_pool_in_use_objects{pool=\"rpc_buffers\"} 1\n"));
  EXPECT_THAT(metrics,
              HasSubstr("inprof_pool_reuse_ratio{pool=\"rpc_buffers\"} 5.5\n"));
}

TEST_F(PoolsEndpointTest, NoPoolsIsAnEmptyList) {
  EXPECT_EQ(Fetch(*agent_, "/debug/pools"), "{\"pools\": []}\n");
  EXPECT_THAT(Fetch(*agent_, "/debug/pools?format=text"),
              HasSubstr("(no pools registered)"));
}

}  // namespace
}  // namespace inprof
