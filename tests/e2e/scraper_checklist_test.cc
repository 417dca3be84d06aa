// pprof-spec.md §4.5: what continuous-profiling scrapers (Grafana Alloy,
// Parca) need from /debug/pprof/profile, checked on a real response fetched
// the way they fetch it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <set>
#include <thread>

#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "agent/profile/profile.h"
#include "inprof/agent.h"
#include "tests/e2e/busy_work.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ScraperChecklistTest, CpuEndpointAnswersLikeGoForAlloyAndParca) {
  StatusOr<Agent> agent = StartAgentOnAnyPort();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  std::atomic<bool> stop{false};
  std::thread busy([&] { HotAlpha(stop); });

  httplib::Client client("127.0.0.1", agent->port());
  client.set_read_timeout(std::chrono::seconds(30));
  httplib::Headers headers = {{"User-Agent", "Alloy/v1.0"}};
  httplib::Result result =
      client.Get("/debug/pprof/profile?seconds=2", headers);
  stop = true;
  busy.join();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  // 2. Content type and gzip body (Alloy rejects anything else).
  EXPECT_THAT(result->get_header_value("Content-Type"),
              StartsWith("application/octet-stream"));
  EXPECT_EQ(result->get_header_value("Content-Disposition"),
            "attachment; filename=\"profile\"");
  EXPECT_EQ(result->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_FALSE(result->has_header("Content-Encoding"));
  ASSERT_GE(result->body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(result->body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(result->body[1]), 0x8b);
  // 6. time set, ids sequential, UTF-8, no '-' in sample types.
  Status valid = internal::ValidateEncoded(result->body);
  ASSERT_TRUE(valid.ok()) << valid.ToString();
  StatusOr<internal::Profile> profile = internal::DecodeProfile(result->body);
  ASSERT_TRUE(profile.ok());
  // 5. CPU profiles carry a duration (Parca: "delta" type iff duration > 0).
  EXPECT_GE(profile->duration_nanos, 1900000000);
  EXPECT_GT(profile->time_nanos, 1600000000LL * 1000000000LL);
  ASSERT_EQ(profile->sample_types.size(), 2u);
  EXPECT_EQ(profile->sample_types[1].type, "cpu");
  EXPECT_EQ(profile->period_type.type, "cpu");
  EXPECT_EQ(profile->period_type.unit, "nanoseconds");
  // 7. Fully symbolized: every location has lines, every mapping flagged.
  for (const internal::Location& location : profile->locations) {
    EXPECT_FALSE(location.lines.empty()) << "location " << location.id;
  }
  for (const internal::Mapping& mapping : profile->mappings) {
    EXPECT_TRUE(mapping.has_functions) << mapping.filename;
  }
  ASSERT_FALSE(profile->mappings.empty());
  EXPECT_FALSE(profile->mappings[0].build_id.empty());
  // Addresses are nonzero and distinct (Alloy identifies frames by them).
  std::set<uint64_t> addresses;
  for (const internal::Location& location : profile->locations) {
    EXPECT_NE(location.address, 0u);
    EXPECT_TRUE(addresses.insert(location.address).second);
  }
}

TEST(ScraperChecklistTest, ErrorsAreOneLineTextThatGoToolPprofShows) {
  StatusOr<Agent> agent = StartAgentOnAnyPort();
  ASSERT_TRUE(agent.ok());
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result result = client.Get("/debug/pprof/profile?seconds=301");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 400);
  EXPECT_EQ(result->get_header_value("X-Go-Pprof"), "1");
  EXPECT_THAT(result->get_header_value("Content-Type"),
              StartsWith("text/plain"));
  EXPECT_THAT(result->body, HasSubstr("seconds=301"));
  EXPECT_EQ(result->body.find('\n'), result->body.size() - 1);
}

}  // namespace
}  // namespace inprof::e2e
