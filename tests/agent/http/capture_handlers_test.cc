// Drives /debug/pprof/captures over real HTTP with a fake source of
// baselines: the list's baseline_url, ?baseline=1 and its 400s and 404s.

#include "agent/http/capture_handlers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <set>
#include <string>

#include "agent/capture/capture_store.h"
#include "agent/http/server.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CaptureHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RequestBaselines baselines;
    baselines.exists = [this](const std::string& endpoint) {
      return with_baseline_.contains(endpoint);
    };
    baselines.profile =
        [this](const std::string& endpoint) -> StatusOr<std::string> {
      if (!with_baseline_.contains(endpoint)) {
        return NotFoundError("no baseline yet for endpoint \"" + endpoint +
                             "\"");
      }
      return "baseline of " + endpoint;
    };
    auto server = HttpServer::Start(
        HttpServerOptions{.host = "127.0.0.1", .port = 0},
        [&](httplib::Server& s, const std::function<bool()>&) {
          InstallCaptureHandlers(s, &captures_, baselines);
        });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  uint64_t AddRequestCapture(const std::string& endpoint) {
    CaptureStore::Info info;
    info.profile = "request";
    info.request.emplace().endpoint = endpoint;
    return captures_.Add(std::move(info), "capture of " + endpoint);
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_->port());
    return client.Get(path.c_str());
  }

  std::set<std::string> with_baseline_ = {"GET /a"};  // read by the server
  CaptureStore captures_;                             // outlives server_
  std::unique_ptr<HttpServer> server_;
};

TEST_F(CaptureHandlersTest, ListLinksABaselineOnlyWhenItsEndpointHasOne) {
  AddRequestCapture("GET /a");
  AddRequestCapture("GET /b");
  (void)captures_.Add("cpu", 5, "a UI capture");  // not listed at all
  httplib::Result res = Get("/debug/pprof/captures");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->body,
              HasSubstr("\"url\":\"/debug/pprof/captures/1\",\"baseline_url\":"
                        "\"/debug/pprof/captures/1?baseline=1\"}"));
  EXPECT_THAT(res->body, HasSubstr("\"url\":\"/debug/pprof/captures/2\"}"));
  EXPECT_THAT(res->body, Not(HasSubstr("captures/3")));
}

TEST_F(CaptureHandlersTest, ServesTheBaselineOfTheCapturesEndpoint) {
  const uint64_t id = AddRequestCapture("GET /a");
  const std::string path = "/debug/pprof/captures/" + std::to_string(id);
  httplib::Result res = Get(path + "?baseline=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "baseline of GET /a");
  EXPECT_EQ(res->get_header_value("Content-Disposition"),
            "attachment; filename=\"capture-1-baseline\"");
  // baseline=0 is the capture itself.
  res = Get(path + "?baseline=0");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "capture of GET /a");
}

TEST_F(CaptureHandlersTest, NoBaselineIsA404WithTheReason) {
  const uint64_t b = AddRequestCapture("GET /b");
  const uint64_t ui = captures_.Add("cpu", 5, "a UI capture");
  for (const auto& [path, reason] :
       std::vector<std::pair<std::string, std::string>>{
           {"/debug/pprof/captures/" + std::to_string(b) + "?baseline=1",
            "no baseline yet for endpoint \"GET /b\""},
           {"/debug/pprof/captures/" + std::to_string(ui) + "?baseline=1",
            "is not a slow request's"},
           {"/debug/pprof/captures/99?baseline=1", "no such capture"},
       }) {
    httplib::Result res = Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_THAT(res->body, HasSubstr(reason)) << path;
    EXPECT_EQ(res->body.find('\n'), res->body.size() - 1) << res->body;
  }
}

TEST_F(CaptureHandlersTest, UnknownParametersAndValuesAreA400) {
  AddRequestCapture("GET /a");
  for (const char* query : {"?baseline=yes", "?baseline=", "?baseline",
                            "?seconds=5", "?baseline=1&debug=1"}) {
    httplib::Result res = Get(std::string("/debug/pprof/captures/1") + query);
    ASSERT_TRUE(res) << query;
    EXPECT_EQ(res->status, 400) << query << ": " << res->body;
    EXPECT_EQ(res->body.find('\n'), res->body.size() - 1) << res->body;
  }
}

}  // namespace
}  // namespace inprof::internal
