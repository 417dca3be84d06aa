// Drives the /debug/pprof routes over real HTTP (httplib::Client against an
// HttpServer on 127.0.0.1, port 0) with a fake PprofBackend.
#include "agent/http/pprof_handlers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/http/server.h"

namespace inprof::internal {
namespace {

using std::chrono::seconds;

// Profile bytes with a NUL and high bytes, to prove the body is passed as is.
const std::string kProfileBytes("\x1f\x8b\x08\x00profile\x00\xff", 13);

// Records calls and answers with kProfileBytes. With Block(), calls wait
// until Release() or until client_gone() is true.
class FakeBackend {
 public:
  PprofBackend Make(std::shared_ptr<FakeBackend> self) {
    PprofBackend backend;
    backend.cpu_profile = [self](int secs,
                                 const std::function<bool()>& client_gone) {
      return self->CpuProfile(secs, client_gone);
    };
    backend.named_profile = [self](const PprofBackend::NamedProfileRequest& r)
        -> StatusOr<std::string> {
      std::unique_lock<std::mutex> lock(self->mu_);
      self->named_seen_.push_back(r.name +
                                  " seconds=" + std::to_string(r.seconds) +
                                  " debug=" + std::to_string(r.debug));
      if (!self->failure_.ok()) return self->failure_;
      self->WaitWhile(lock, self->named_blocked_, r.client_gone);
      return r.debug != 0 ? std::string("heap profile: text\n") : kProfileBytes;
    };
    backend.symbol_name = [](uint64_t address) -> std::string {
      return address == 0x1234 ? "app::foo" : "";
    };
    return backend;
  }

  void Block() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = true;
  }
  // Named profiles (heap, allocs, ...) wait too, as a slow heap?debug=1.
  void BlockNamed() {
    std::lock_guard<std::mutex> lock(mu_);
    named_blocked_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = false;
    named_blocked_ = false;
    cv_.notify_all();
  }
  void FailWith(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = std::move(status);
  }
  void Throw() {
    std::lock_guard<std::mutex> lock(mu_);
    throw_ = true;
  }
  std::vector<std::string> named_seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return named_seen_;
  }
  std::vector<int> seconds_seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seconds_seen_;
  }
  // Waits (up to 10 s) until `n` calls are inside the backend at once.
  bool WaitForInCall(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(10), [&] { return in_call_ >= n; });
  }
  // Waits (up to 10 s) until a call returned because the client was gone.
  bool WaitForClientGone() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(10), [&] { return saw_client_gone_; });
  }

 private:
  StatusOr<std::string> CpuProfile(int secs,
                                   const std::function<bool()>& client_gone) {
    std::unique_lock<std::mutex> lock(mu_);
    seconds_seen_.push_back(secs);
    if (throw_) throw std::runtime_error("boom\nsecond line");
    if (!failure_.ok()) return failure_;
    WaitWhile(lock, blocked_, client_gone);
    return kProfileBytes;
  }

  // Counts the call as inside the backend while `blocked`, polling
  // client_gone() as a real backend would, a few times a second.
  void WaitWhile(std::unique_lock<std::mutex>& lock, const bool& blocked,
                 const std::function<bool()>& client_gone) {
    ++in_call_;
    cv_.notify_all();
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (blocked && std::chrono::steady_clock::now() < deadline) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
      lock.unlock();
      const bool gone = client_gone && client_gone();
      lock.lock();
      if (gone) {
        saw_client_gone_ = true;
        cv_.notify_all();
        break;
      }
    }
    --in_call_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool blocked_ = false;
  bool named_blocked_ = false;
  bool throw_ = false;
  Status failure_;
  int in_call_ = 0;
  bool saw_client_gone_ = false;
  std::vector<int> seconds_seen_;
  std::vector<std::string> named_seen_;
};

class PprofHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(PprofOptions{}); }

  void StartServer(PprofOptions options) {
    server_.reset();
    backend_ = std::make_shared<FakeBackend>();
    PprofBackend backend = backend_->Make(backend_);
    auto server = HttpServer::Start(
        HttpServerOptions{.host = "127.0.0.1", .port = 0},
        [&](httplib::Server& s, const std::function<bool()>& stopping) {
          options.stopping = stopping;
          options.captures = &captures_;
          InstallPprofHandlers(s, backend, options);
        });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  std::unique_ptr<httplib::Client> NewClient() {
    auto client =
        std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client->set_read_timeout(30, 0);
    return client;
  }

  httplib::Result Get(const std::string& path) {
    return NewClient()->Get(path.c_str());
  }

  std::shared_ptr<FakeBackend> backend_;
  CaptureStore captures_;  // outlives server_
  std::unique_ptr<HttpServer> server_;
};

// Checks Go's serveError shape (pprof-spec.md §1.3).
void ExpectPprofError(const httplib::Result& res, int status,
                      const std::string& message) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, status);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(res->get_header_value("X-Go-Pprof"), "1");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_FALSE(res->has_header("Content-Disposition"));
  EXPECT_EQ(res->body, message + "\n");
}

void ExpectProfile(const httplib::Result& res) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(res->get_header_value("Content-Disposition"),
            "attachment; filename=\"profile\"");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_FALSE(res->has_header("Content-Encoding"));
  EXPECT_EQ(res->body, kProfileBytes);
}

TEST_F(PprofHandlersTest, RejectsNonIntegerSeconds) {
  const struct {
    const char* query;
    const char* message;
  } kCases[] = {
      {"seconds=abc", "seconds=abc: not an integer"},
      {"seconds=1.5", "seconds=1.5: not an integer"},
      {"seconds=", "seconds=: not an integer"},
      {"seconds=%20", "seconds= : not an integer"},
      {"seconds=1e3", "seconds=1e3: not an integer"},
      {"seconds=%0A", "seconds=\\x0a: not an integer"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.query);
    ExpectPprofError(Get(std::string("/debug/pprof/profile?") + c.query), 400,
                     c.message);
  }
  EXPECT_TRUE(backend_->seconds_seen().empty());
}

TEST_F(PprofHandlersTest, RejectsOutOfRangeSeconds) {
  for (const char* value : {"-1", "0", "301", "100000000000000000000"}) {
    SCOPED_TRACE(value);
    ExpectPprofError(
        Get(std::string("/debug/pprof/profile?seconds=") + value), 400,
        std::string("seconds=") + value + ": must be between 1 and 300");
  }
  EXPECT_TRUE(backend_->seconds_seen().empty());
}

TEST_F(PprofHandlersTest, HonoursConfiguredMaximum) {
  PprofOptions options;
  options.max_profile_seconds = 60;
  StartServer(options);
  ExpectPprofError(Get("/debug/pprof/profile?seconds=61"), 400,
                   "seconds=61: must be between 1 and 60");
  ExpectProfile(Get("/debug/pprof/profile?seconds=60"));
}

TEST_F(PprofHandlersTest, PassesValidSecondsToBackend) {
  ExpectProfile(Get("/debug/pprof/profile?seconds=1"));
  ExpectProfile(Get("/debug/pprof/profile?seconds=14"));
  ExpectProfile(Get("/debug/pprof/profile?seconds=300"));
  ExpectProfile(Get("/debug/pprof/profile?debug=1&seconds=5"));  // debug: no-op
  EXPECT_EQ(backend_->seconds_seen(), (std::vector<int>{1, 14, 300, 5}));
}

TEST_F(PprofHandlersTest, DefaultsToThirtySeconds) {
  ExpectProfile(Get("/debug/pprof/profile"));
  EXPECT_EQ(backend_->seconds_seen(), std::vector<int>{30});
}

TEST_F(PprofHandlersTest, MapsBackendErrorsToHttpStatus) {
  const struct {
    Status status;
    int http;
  } kCases[] = {
      {UnavailableError("CPU profiler busy"), 503},
      {FailedPreconditionError("CPU profiling disabled"), 503},
      {InternalError("timer_create failed: EAGAIN"), 500},
      {InvalidArgumentError("bad"), 400},
      {NotFoundError("gone"), 404},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.status.ToString());
    backend_->FailWith(c.status);
    ExpectPprofError(Get("/debug/pprof/profile?seconds=1"), c.http,
                     c.status.message());
  }
}

TEST_F(PprofHandlersTest, BackendExceptionGives500OneLine) {
  backend_->Throw();
  ExpectPprofError(Get("/debug/pprof/profile?seconds=1"), 500,
                   "internal error serving /debug/pprof/profile: "
                   "boom\\x0asecond line");
  // The server survived and still answers.
  httplib::Result res = Get("/debug/pprof/cmdline");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(PprofHandlersTest, UnknownProfileIs404ListingKnownProfiles) {
  ExpectPprofError(Get("/debug/pprof/nosuch"), 404,
                   "Unknown profile: nosuch (known: allocs, block, cmdline, "
                   "goroutine, heap, mutex, profile, symbol)");
  ExpectPprofError(Get("/debug/pprof/a%0Ab"), 404,
                   "Unknown profile: a\\x0ab (known: allocs, block, cmdline, "
                   "goroutine, heap, mutex, profile, symbol)");
}

TEST_F(PprofHandlersTest, HeapParametersAreReadAsGoReadsThem) {
  ExpectPprofError(Get("/debug/pprof/heap?seconds=abc"), 400,
                   "seconds=abc: not an integer");
  ExpectPprofError(Get("/debug/pprof/heap?seconds=0"), 400,
                   "seconds=0: must be between 1 and 300");
  ExpectPprofError(Get("/debug/pprof/heap?seconds=1&debug=1"), 400,
                   "seconds and debug=1 cannot be combined: a delta profile "
                   "is binary only");
  httplib::Result plain = Get("/debug/pprof/heap?gc=1&debug=x&seconds=");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->get_header_value("Content-Disposition"),
            "attachment; filename=\"heap\"");
  httplib::Result delta = Get("/debug/pprof/allocs?seconds=2");
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->get_header_value("Content-Disposition"),
            "attachment; filename=\"allocs-delta\"");
  httplib::Result text = Get("/debug/pprof/heap?debug=2");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->get_header_value("Content-Type"),
            "text/plain; charset=utf-8");
  EXPECT_FALSE(text->has_header("Content-Disposition"));
  EXPECT_EQ(text->body, "heap profile: text\n");
  EXPECT_THAT(backend_->named_seen(),
              ::testing::ElementsAre("heap seconds=0 debug=0",
                                     "allocs seconds=2 debug=0",
                                     "heap seconds=0 debug=2"));
}

TEST_F(PprofHandlersTest, HeapWithoutTcmallocIs501WithTheRemedy) {
  backend_->FailWith(UnimplementedError(
      "heap profiling is not available: link with -ltcmalloc"));
  ExpectPprofError(Get("/debug/pprof/heap"), 501,
                   "heap profiling is not available: link with -ltcmalloc");
}

TEST_F(PprofHandlersTest, TraceIs404GoOnly) {
  ExpectPprofError(Get("/debug/pprof/trace?seconds=1"), 404,
                   "trace: Go execution traces are not available from a C++ "
                   "process; use /debug/pprof/profile for a CPU profile");
}

TEST_F(PprofHandlersTest, OtherPathsGetOneLine404) {
  ExpectPprofError(Get("/nowhere"), 404,
                   "Not found: /nowhere (profiling endpoints are under "
                   "/debug/pprof/)");
}

TEST_F(PprofHandlersTest, CmdlineIsNulJoinedArgvWithoutTrailingNul) {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  std::string want((std::istreambuf_iterator<char>(file)),
                   std::istreambuf_iterator<char>());
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(want.back(), '\0');
  want.pop_back();
  httplib::Result res = Get("/debug/pprof/cmdline");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res->body, want);
}

TEST_F(PprofHandlersTest, SymbolGetUsesRawQuery) {
  // Decimal and octal forms of 0x1234; unknown and malformed tokens skipped;
  // "%2B" is not decoded, so "0x1234%2B0x1" is one bad token.
  // Send the target verbatim: httplib::Client would otherwise escape '+'.
  auto client = NewClient();
  client->set_url_encode(false);
  httplib::Result res = client->Get(
      "/debug/pprof/symbol?0x1234+0x9999+junk+4660+011064+0x1234%2B0x1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res->body,
            "num_symbols: 1\n0x1234 app::foo\n0x1234 app::foo\n"
            "0x1234 app::foo\n");
}

TEST_F(PprofHandlersTest, SymbolGetWithoutQueryAnnouncesSymbols) {
  httplib::Result res = Get("/debug/pprof/symbol");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "num_symbols: 1\n");
}

TEST_F(PprofHandlersTest, SymbolPostUsesBody) {
  // What google/pprof's symbolz client sends (pprof-spec.md §1.8).
  httplib::Result res =
      NewClient()->Post("/debug/pprof/symbol", "0x1234+0x5678+0xzz+0x1234",
                        "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(res->body, "num_symbols: 1\n0x1234 app::foo\n0x1234 app::foo\n");
}

TEST_F(PprofHandlersTest, IndexLinksEveryEndpoint) {
  httplib::Result res = Get("/debug/pprof/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* link :
       {"href='profile?seconds=30'", "href='cmdline'", "href='symbol'",
        "href='block?debug=1'", "href='mutex?debug=1'", "CPU profile."}) {
    EXPECT_NE(res->body.find(link), std::string::npos) << link;
  }
  EXPECT_EQ(res->body.find("trace"), std::string::npos);
}

TEST_F(PprofHandlersTest, RedirectsBarePathToIndex) {
  httplib::Result res = Get("/debug/pprof");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 301);
  EXPECT_EQ(res->get_header_value("Location"), "/debug/pprof/");
  auto client = NewClient();
  client->set_follow_location(true);
  res = client->Get("/debug/pprof");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("href='profile?seconds=30'"), std::string::npos);
}

TEST_F(PprofHandlersTest, ConcurrentProfilesBothCompleteWhileCmdlineAnswers) {
  backend_->Block();
  std::optional<httplib::Result> first, second;
  std::thread a([&] { first.emplace(Get("/debug/pprof/profile?seconds=10")); });
  std::thread b(
      [&] { second.emplace(Get("/debug/pprof/profile?seconds=20")); });
  // Both requests are inside the backend at the same time...
  const bool both_in = backend_->WaitForInCall(2);
  EXPECT_TRUE(both_in);
  // ...and other endpoints still answer while they wait.
  if (both_in) {
    httplib::Result cmdline = Get("/debug/pprof/cmdline");
    ASSERT_TRUE(cmdline);
    EXPECT_EQ(cmdline->status, 200);
  }
  backend_->Release();
  a.join();
  b.join();
  ASSERT_TRUE(first.has_value());
  ExpectProfile(*first);
  ASSERT_TRUE(second.has_value());
  ExpectProfile(*second);
}

TEST_F(PprofHandlersTest, RejectsProfilesBeyondConcurrencyLimit) {
  PprofOptions options;
  options.max_concurrent_profiles = 1;
  StartServer(options);
  backend_->Block();
  std::optional<httplib::Result> first;
  std::thread a([&] { first.emplace(Get("/debug/pprof/profile?seconds=10")); });
  ASSERT_TRUE(backend_->WaitForInCall(1));
  ExpectPprofError(Get("/debug/pprof/profile?seconds=10"), 503,
                   "too many concurrent CPU profile requests (limit 1); "
                   "retry later");
  backend_->Release();
  a.join();
  ASSERT_TRUE(first.has_value());
  ExpectProfile(*first);
}

// Cheap fetches (heap, allocs without seconds) hold no worker for long:
// they do not count toward the limit on profiles served at once, so they
// never crowd out a CPU profile (issue 12, item 6).
TEST_F(PprofHandlersTest, CheapFetchesDoNotCountTowardTheLimit) {
  PprofOptions options;
  options.max_concurrent_profiles = 1;
  StartServer(options);
  backend_->BlockNamed();
  std::vector<std::thread> cheap;
  std::vector<std::optional<httplib::Result>> cheap_results(3);
  for (auto& result : cheap_results) {
    cheap.emplace_back([&] { result.emplace(Get("/debug/pprof/heap")); });
  }
  ASSERT_TRUE(backend_->WaitForInCall(3));
  ExpectProfile(Get("/debug/pprof/profile?seconds=1"));
  backend_->Release();
  for (std::thread& t : cheap) t.join();
  for (auto& result : cheap_results) {
    ASSERT_TRUE(result.has_value() && *result);
    EXPECT_EQ((*result)->status, 200);
  }
}

// Stop() does not wait for a slow cheap fetch either: it is told to end.
TEST_F(PprofHandlersTest, StopEndsASlowHeapFetch) {
  backend_->BlockNamed();
  std::thread a([&] { Get("/debug/pprof/heap?debug=1"); });
  ASSERT_TRUE(backend_->WaitForInCall(1));
  server_->Stop();
  EXPECT_TRUE(backend_->WaitForClientGone());
  a.join();
}

TEST_F(PprofHandlersTest, ClientDisconnectEndsProfileEarly) {
  backend_->Block();
  std::thread a([&] {
    auto client = NewClient();
    client->set_read_timeout(0, 300000);  // gives up after 0.3 s, closing
    EXPECT_FALSE(client->Get("/debug/pprof/profile?seconds=30"));
  });
  EXPECT_TRUE(backend_->WaitForClientGone());
  a.join();
  backend_->Release();
}

TEST_F(PprofHandlersTest, StopEndsProfileInProgress) {
  backend_->Block();
  std::thread a([&] { Get("/debug/pprof/profile?seconds=300"); });
  ASSERT_TRUE(backend_->WaitForInCall(1));
  server_->Stop();  // Must not wait for the 300 s (nor the fake's 30 s).
  EXPECT_TRUE(backend_->WaitForClientGone());
  a.join();
}

}  // namespace
}  // namespace inprof::internal
