// inprof::RequestScope, CurrentRequest and AdoptRequest as a user calls them
// (include/inprof/request.h), checked against the thread's request record
// that the samplers read (agent/base/thread_labels.h).
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/thread_labels.h"
#include "agent/labels/label_registry.h"
#include "agent/labels/request_observer.h"
#include "inprof/request.h"

namespace inprof {
namespace {

using Labels = std::map<std::string, std::string>;

// The labels the samplers would stamp on a sample taken now.
Labels CurrentLabels() {
  Labels out;
  const internal::LabelSet* set =
      internal::LabelRegistry::Global().Find(internal::CurrentLabelSet());
  if (set == nullptr) return out;
  for (const internal::LabelPair& p : set->pairs) {
    out[std::string(p.key)] = std::string(p.value);
  }
  return out;
}

TEST(RequestScopeTest, SetsTheEndpointAndRestoresOnExit) {
  EXPECT_EQ(CurrentLabels(), Labels{});
  EXPECT_FALSE(CurrentRequest().valid());
  {
    RequestScope scope("GET /users");
    EXPECT_EQ(CurrentLabels(), (Labels{{"endpoint", "GET /users"}}));
    EXPECT_TRUE(CurrentRequest().valid());
  }
  EXPECT_EQ(CurrentLabels(), Labels{});
  EXPECT_FALSE(CurrentRequest().valid());
  EXPECT_EQ(internal::CurrentRequestId(), 0u);
}

TEST(RequestScopeTest, ExtraLabelsAndNestingOverrideThenRestore) {
  RequestScope outer("GET /users", {{"tenant", "acme"}});
  const uint64_t request = CurrentRequest().request_id();
  EXPECT_EQ(CurrentLabels(),
            (Labels{{"endpoint", "GET /users"}, {"tenant", "acme"}}));
  {
    RequestScope inner("GET /users/:id",
                       {{"tenant", "initech"}, {"db", "primary"}});
    EXPECT_EQ(CurrentLabels(), (Labels{{"endpoint", "GET /users/:id"},
                                       {"tenant", "initech"},
                                       {"db", "primary"}}));
    // Still the same request.
    EXPECT_EQ(CurrentRequest().request_id(), request);
    {
      RequestScope labels_only("", {{"phase", "render"}});
      EXPECT_EQ(CurrentLabels()["phase"], "render");
      EXPECT_EQ(CurrentLabels()["endpoint"], "GET /users/:id");
    }
    EXPECT_EQ(CurrentLabels().count("phase"), 0u);
  }
  EXPECT_EQ(CurrentLabels(),
            (Labels{{"endpoint", "GET /users"}, {"tenant", "acme"}}));
}

TEST(RequestScopeTest, EachOutermostScopeIsANewRequest) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    RequestScope scope("GET /users");
    ids.push_back(CurrentRequest().request_id());
  }
  EXPECT_NE(ids[0], 0u);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  // Other threads get other ids too.
  uint64_t other = 0;
  std::thread([&] {
    RequestScope scope("GET /users");
    other = CurrentRequest().request_id();
  }).join();
  EXPECT_NE(other, 0u);
  for (uint64_t id : ids) EXPECT_NE(other, id);
}

TEST(RequestScopeTest, AnotherThreadAdoptsTheRequestForARegion) {
  RequestScope scope("POST /orders", {{"tenant", "acme"}});
  const RequestHandle request = CurrentRequest();
  Labels during, after, before;
  uint64_t adopted_id = 0;
  std::thread worker([&, request] {
    RequestScope own("background");  // the worker's own work
    before = CurrentLabels();
    {
      AdoptRequest adopt(request);
      during = CurrentLabels();
      adopted_id = CurrentRequest().request_id();
    }
    after = CurrentLabels();
  });
  worker.join();
  EXPECT_EQ(during, (Labels{{"endpoint", "POST /orders"}, {"tenant", "acme"}}));
  EXPECT_EQ(adopted_id, request.request_id());
  EXPECT_EQ(before, (Labels{{"endpoint", "background"}}));
  EXPECT_EQ(after, before);
}

TEST(RequestScopeTest, AdoptingAnEmptyHandleClearsTheLabels) {
  RequestScope scope("GET /users");
  {
    AdoptRequest adopt{RequestHandle()};
    EXPECT_EQ(CurrentLabels(), Labels{});
    EXPECT_FALSE(CurrentRequest().valid());
  }
  EXPECT_EQ(CurrentLabels(), (Labels{{"endpoint", "GET /users"}}));
}

TEST(RequestScopeTest, ManyThreadsEnterAndLeaveScopes) {
  // Run under ThreadSanitizer in CI: the registry is shared.
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 2000; ++i) {
        const std::string endpoint = "GET /e" + std::to_string(i % 50);
        RequestScope scope(endpoint, {{"thread", std::to_string(t % 2)}});
        Labels labels = CurrentLabels();
        if (labels["endpoint"] != endpoint) ++wrong[t];
        if (labels["thread"] != std::to_string(t % 2)) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

// The ends of requests, as the flight recorder hears of them, while one of
// the trace tests below runs.
std::vector<internal::RequestEnd> g_ends;
void RecordEnd(const internal::RequestEnd& end) noexcept {
  g_ends.push_back(end);
}

// Observes request ends on this thread for the test's life.
class RecordRequestEnds {
 public:
  RecordRequestEnds() {
    g_ends.clear();
    internal::SetRequestObserver(&RecordEnd);
  }
  ~RecordRequestEnds() { internal::SetRequestObserver(nullptr); }
};

constexpr char kTraceParent[] =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(RequestScopeTest, TraceParentRidesWithTheRequestNotItsLabels) {
  RecordRequestEnds record;
  {
    RequestScope scope("GET /users/:id");
    EXPECT_TRUE(SetRequestTraceParent(kTraceParent));
    // Not a label: per-request ids would fill the label registry.
    EXPECT_EQ(CurrentLabels(), (Labels{{"endpoint", "GET /users/:id"}}));
  }
  ASSERT_EQ(g_ends.size(), 1u);
  EXPECT_TRUE(g_ends[0].has_trace);
  EXPECT_EQ(g_ends[0].trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(g_ends[0].span_id_hex(), "00f067aa0ba902b7");
}

TEST(RequestScopeTest, TraceParentEndsWithItsRequest) {
  RecordRequestEnds record;
  {
    RequestScope scope("GET /a");
    EXPECT_TRUE(SetRequestTraceParent(kTraceParent));
  }
  { RequestScope scope("GET /b"); }
  ASSERT_EQ(g_ends.size(), 2u);
  EXPECT_TRUE(g_ends[0].has_trace);
  EXPECT_FALSE(g_ends[1].has_trace);
}

TEST(RequestScopeTest, TraceParentSetInANestedScopeBelongsToTheRequest) {
  RecordRequestEnds record;
  {
    RequestScope outer("GET /a");
    {
      RequestScope inner("", {{"phase", "render"}});
      EXPECT_TRUE(SetRequestTraceParent(kTraceParent));
    }
    EXPECT_TRUE(g_ends.empty());  // a nested scope is not a request's end
  }
  ASSERT_EQ(g_ends.size(), 1u);
  EXPECT_TRUE(g_ends[0].has_trace);
}

TEST(RequestScopeTest, TraceParentLaterCallReplacesTheEarlier) {
  RecordRequestEnds record;
  {
    RequestScope scope("GET /a");
    EXPECT_TRUE(SetRequestTraceParent(kTraceParent));
    EXPECT_TRUE(SetRequestTraceParent(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
    // An invalid one changes nothing.
    EXPECT_FALSE(SetRequestTraceParent("00-zz"));
  }
  ASSERT_EQ(g_ends.size(), 1u);
  EXPECT_EQ(g_ends[0].trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(g_ends[0].span_id_hex(), "b7ad6b7169203331");
}

TEST(RequestScopeTest, TraceParentNeedsARequestOfTheThreadsOwn) {
  RecordRequestEnds record;
  EXPECT_FALSE(SetRequestTraceParent(kTraceParent));  // outside any request
  {
    RequestScope scope("GET /a");
    EXPECT_FALSE(SetRequestTraceParent(
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    const RequestHandle request = CurrentRequest();
    std::optional<bool> adopted_result;
    std::thread([&adopted_result, request] {
      AdoptRequest adopt(request);
      adopted_result = SetRequestTraceParent(kTraceParent);
    }).join();
    EXPECT_EQ(adopted_result, false);
  }
  ASSERT_EQ(g_ends.size(), 1u);
  EXPECT_FALSE(g_ends[0].has_trace);
}

}  // namespace
}  // namespace inprof
