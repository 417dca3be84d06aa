#include "agent/flight/baselines.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/profile.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

RequestEnd End(uint64_t label_set, uint64_t request_id, uint64_t start_ns,
               uint64_t end_ns) {
  return RequestEnd{label_set, request_id, start_ns, end_ns};
}

// A CPU sample (weight 1, 10 ms of the thread's CPU) or, with wall_nanos,
// a wall sample (no CPU since the last) of `pcs`.
RawSample Sample(std::vector<uint64_t> pcs, uint64_t wall_nanos = 0) {
  RawSample s{};
  s.label_set = 7;  // a request's labels: dropped by the reservoir
  s.request_id = 1;
  s.tid = 42;
  s.weight = wall_nanos == 0 ? 1 : 0;
  s.wall_nanos = wall_nanos;
  s.cpu_nanos = wall_nanos == 0 ? 10'000'000 : 0;
  s.depth = static_cast<uint32_t>(pcs.size());
  for (size_t i = 0; i < pcs.size(); ++i) s.pcs[i] = pcs[i];
  return s;
}

TEST(TypicalRequestQueueTest, TakesOneRequestPerLabelSetPerInterval) {
  TypicalRequestQueue queue;
  EXPECT_TRUE(queue.Offer(End(3, 1, 0, 10 * kSecond)));
  // Same label set within the interval: dropped at the atomic load.
  EXPECT_FALSE(queue.Offer(End(3, 2, 0, 10 * kSecond + kSecond / 2)));
  // Another label set has an interval of its own.
  EXPECT_TRUE(queue.Offer(End(4, 3, 0, 10 * kSecond + kSecond / 2)));
  // The interval has passed.
  EXPECT_TRUE(queue.Offer(End(3, 4, 0, 11 * kSecond)));
  std::vector<RequestEnd> taken = queue.TakeAll();
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken[0].request_id, 1u);
  EXPECT_EQ(taken[1].request_id, 3u);
  EXPECT_EQ(taken[2].request_id, 4u);
  EXPECT_TRUE(queue.TakeAll().empty());
  EXPECT_EQ(queue.stats().queued, 3u);
}

TEST(TypicalRequestQueueTest, FullQueueCountsDropsInsteadOfGrowing) {
  TypicalRequestQueue queue;
  for (uint64_t set = 1; set <= TypicalRequestQueue::kMaxQueued + 5; ++set) {
    (void)queue.Offer(
        End(set, set, 0, set * TypicalRequestQueue::kSpacingNanos));
  }
  EXPECT_EQ(queue.TakeAll().size(), TypicalRequestQueue::kMaxQueued);
  EXPECT_EQ(queue.stats().queue_full, 5u);
}

TEST(TypicalRequestQueueTest, LabelSetsOfTheirOwnShareOneRate) {
  // Requests with a label set each (a trace id each), 1 ms apart for 1 s:
  // each set would pass its own gate; together they get 64 a second.
  TypicalRequestQueue queue;
  size_t taken = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    if (queue.Offer(End(100 + i, i, 0, kSecond + i * 1'000'000))) ++taken;
    if (i % 16 == 0) (void)queue.TakeAll();  // keep the queue from filling
  }
  EXPECT_LE(taken, 64u);
  EXPECT_GE(taken, 60u);
}

TEST(TypicalRequestQueueTest, IgnoresLabelSetsOutOfRange) {
  TypicalRequestQueue queue;
  EXPECT_FALSE(queue.Offer(End(uint64_t{1} << 40, 1, 0, kSecond)));
  EXPECT_TRUE(queue.TakeAll().empty());
}

TEST(TypicalRequestQueueTest, ConcurrentRequestsOfOneSetYieldOnePerInterval) {
  // Threads ending requests of one label set at the same moments, while
  // another thread takes them: one request per interval gets through.
  TypicalRequestQueue queue;
  constexpr int kThreads = 4;
  constexpr uint64_t kIntervals = 20;
  std::atomic<bool> done{false};
  std::vector<RequestEnd> taken;
  std::thread taker([&] {
    while (!done.load()) {
      for (const RequestEnd& end : queue.TakeAll()) taken.push_back(end);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&queue, t] {
      for (uint64_t i = 0; i < kIntervals; ++i) {
        for (uint64_t k = 0; k < 10; ++k) {
          (void)queue.Offer(
              End(5, (i * 10 + k) * kThreads + t, 0, i * kSecond + k * 1000));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done.store(true);
  taker.join();
  for (const RequestEnd& end : queue.TakeAll()) taken.push_back(end);
  EXPECT_LE(taken.size(), kIntervals);
  EXPECT_GE(taken.size(), 1u);
  EXPECT_EQ(queue.stats().queued, taken.size());
}

TEST(BaselineReservoirTest, AddAndGetFromManyThreads) {
  BaselineReservoir reservoir(
      {.requests_per_endpoint = 4, .max_endpoints = 3, .min_interval_ns = 0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&reservoir, t] {
      const std::string endpoint = "GET /" + std::to_string(t);
      for (uint64_t i = 1; i <= 200; ++i) {
        (void)reservoir.Add(endpoint, End(1, i, i, i + 1), {Sample({i})});
        if (auto snap = reservoir.Get(endpoint)) {
          EXPECT_LE(snap->requests, 4u);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(reservoir.stats().endpoints, 3u);
}

TEST(BaselineReservoirTest, KeepsTheLastRequestsOfEachEndpoint) {
  BaselineReservoir reservoir({.requests_per_endpoint = 3});
  EXPECT_FALSE(reservoir.Has("GET /a"));
  EXPECT_FALSE(reservoir.Get("GET /a"));
  for (uint64_t i = 1; i <= 5; ++i) {
    // Request i has i samples of stack {i}.
    std::vector<RawSample> samples(i, Sample({0x1000 * i}));
    ASSERT_TRUE(reservoir.Add(
        "GET /a", End(1, i, i * 10 * kSecond, i * 10 * kSecond + 5'000'000),
        samples));
  }
  EXPECT_TRUE(reservoir.Has("GET /a"));
  EXPECT_FALSE(reservoir.Has("GET /b"));
  std::optional<BaselineReservoir::Snapshot> snap = reservoir.Get("GET /a");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->requests, 3u);  // requests 3, 4, 5
  EXPECT_EQ(snap->samples.size(), 3u + 4u + 5u);
  EXPECT_EQ(snap->first_start_ns, 30 * kSecond);
  EXPECT_EQ(snap->last_end_ns, 50 * kSecond + 5'000'000);
  EXPECT_EQ(snap->total_duration_ns, 3u * 5'000'000);
  for (const RawSample& s : snap->samples) {
    EXPECT_EQ(s.label_set, 0u);
    EXPECT_EQ(s.tid, 42u);  // kept: CPU time is spread per thread
    EXPECT_EQ(s.cpu_nanos, 10'000'000u);
    EXPECT_EQ(s.depth, 1u);
    EXPECT_GE(s.pcs[0], 0x3000u);
  }
}

TEST(BaselineReservoirTest, TakesAtMostOneRequestPerIntervalPerEndpoint) {
  BaselineReservoir reservoir;
  EXPECT_TRUE(reservoir.Add("GET /a", End(1, 1, 0, kSecond), {}));
  // Another label set of the same endpoint, too soon after.
  EXPECT_FALSE(reservoir.Add("GET /a", End(2, 2, 0, kSecond + 1), {}));
  EXPECT_TRUE(reservoir.Add("GET /b", End(3, 3, 0, kSecond + 1), {}));
  EXPECT_TRUE(reservoir.Add("GET /a", End(1, 4, 0, 2 * kSecond), {}));
  EXPECT_EQ(reservoir.stats().too_soon, 1u);
  EXPECT_EQ(reservoir.Get("GET /a")->requests, 2u);
}

TEST(BaselineReservoirTest, RequestsWithoutSamplesCount) {
  // A request cheaper than one sampling period has no sample; it still is
  // one of the typical requests the baseline averages over.
  BaselineReservoir reservoir({.min_interval_ns = 0});
  ASSERT_TRUE(reservoir.Add("GET /a", End(1, 1, 0, 10), {Sample({0x10})}));
  ASSERT_TRUE(reservoir.Add("GET /a", End(1, 2, 20, 30), {}));
  EXPECT_EQ(reservoir.Get("GET /a")->requests, 2u);
  EXPECT_EQ(reservoir.Get("GET /a")->samples.size(), 1u);
}

TEST(BaselineReservoirTest, StaysWithinItsBytesPerEndpoint) {
  const std::vector<RawSample> ten(10, Sample(std::vector<uint64_t>(30, 1)));
  BaselineReservoir probe({.min_interval_ns = 0});
  ASSERT_TRUE(probe.Add("x", End(1, 1, 0, 1), ten));
  const size_t one = probe.stats().bytes;

  // Room for two such requests: the oldest go first.
  BaselineReservoir reservoir(
      {.max_bytes_per_endpoint = 2 * one + one / 2, .min_interval_ns = 0});
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(reservoir.Add("GET /a", End(1, i, i, i + 1), ten));
    EXPECT_LE(reservoir.stats().bytes, 2 * one + one / 2);
  }
  EXPECT_EQ(reservoir.Get("GET /a")->requests, 2u);
  EXPECT_EQ(reservoir.Get("GET /a")->first_start_ns, 3u);

  // A request larger than the budget alone is not kept.
  const std::vector<RawSample> many(40, Sample(std::vector<uint64_t>(30, 1)));
  EXPECT_FALSE(reservoir.Add("GET /a", End(1, 9, 10, 11), many));
  EXPECT_EQ(reservoir.stats().too_large, 1u);
  EXPECT_EQ(reservoir.Get("GET /a")->requests, 2u);
}

TEST(BaselineReservoirTest, DropsTheStalestEndpointForANewOne) {
  BaselineReservoir reservoir({.max_endpoints = 2, .min_interval_ns = 0});
  ASSERT_TRUE(reservoir.Add("GET /a", End(1, 1, 0, 1 * kSecond), {}));
  ASSERT_TRUE(reservoir.Add("GET /b", End(2, 2, 0, 2 * kSecond), {}));
  ASSERT_TRUE(reservoir.Add("GET /a", End(1, 3, 0, 3 * kSecond), {}));
  ASSERT_TRUE(reservoir.Add("GET /c", End(3, 4, 0, 4 * kSecond), {}));
  EXPECT_TRUE(reservoir.Has("GET /a"));
  EXPECT_FALSE(reservoir.Has("GET /b"));  // fed least recently
  EXPECT_TRUE(reservoir.Has("GET /c"));
  EXPECT_EQ(reservoir.stats().endpoints, 2u);
}

TEST(BaselineProfileTest, NormalizesToOneRequest) {
  BaselineReservoir reservoir({.min_interval_ns = 0});
  // Four requests of 20 ms: stack A on CPU 2 samples each (8 in all), and
  // stack B once in all; 20 ms of wall time each on A.
  for (uint64_t i = 0; i < 4; ++i) {
    std::vector<RawSample> samples = {Sample({0xA000}), Sample({0xA000}),
                                      Sample({0xA000}, 20'000'000)};
    if (i == 0) samples.push_back(Sample({0xB000}));
    ASSERT_TRUE(reservoir.Add(
        "GET /a", End(1, i + 1, i * kSecond, i * kSecond + 20'000'000),
        samples));
  }
  Symbolizer symbolizer;
  Profile profile = BuildBaselineProfile(
      *reservoir.Get("GET /a"),
      {.endpoint = "GET /a", .hz = 100, .threshold_nanos = 100'000'000},
      &symbolizer);
  ASSERT_EQ(profile.sample_types.size(), 5u);
  EXPECT_EQ(profile.sample_types[0].type, "samples");
  EXPECT_EQ(profile.sample_types[1].type, "cpu");
  EXPECT_EQ(profile.sample_types[2].type, "wall");
  EXPECT_EQ(profile.duration_nanos, 20'000'000);  // the mean request's
  int64_t cpu = 0, wall = 0, count = 0;
  for (const internal::Sample& s : profile.samples) {
    count += s.values[0];
    cpu += s.values[1];
    wall += s.values[2];
  }
  // Per request: 2.25 samples of 10 ms (B's 10 ms / 4 kept in nanoseconds).
  EXPECT_EQ(cpu, 22'500'000);
  EXPECT_EQ(wall, 20'000'000);
  EXPECT_EQ(count, 2);  // A: 2; B: 0.25 rounds to 0 samples
  std::string comments;
  for (const std::string& c : profile.comments) comments += c + "\n";
  EXPECT_NE(comments.find("endpoint=GET /a typical_requests=4"),
            std::string::npos)
      << comments;
  EXPECT_NE(comments.find("threshold_ms=100"), std::string::npos);
  EXPECT_NE(comments.find("per request"), std::string::npos);
}

}  // namespace
}  // namespace inprof::internal
