// demo_server: a small cpp-httplib application with the inprof agent built
// in, for trying `go tool pprof` on something that works hard.
//
//   demo_server --load            # serve on :8080, profile on :6060, self-load
//   go tool pprof -top 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
//
// Endpoints (each does recognizable work in a named function):
//   /primes?n=N        demo::CountPrimes: primes <= N by trial division, on a
//                      worker pool (demo::CountPrimesBetween)
//   /hash?rounds=N     demo::HashChain: N rounds of a 64-bit mixer
//   /sort?n=N          demo::SortRandom: sorts N pseudo-random numbers
//   /cache?kb=N        demo::SessionCache::Put: keeps an N KiB blob
//   /ledger?rounds=N   demo::Ledger::Append: HashChain under a shared lock
//   /audit?entries=N   demo::Ledger::Audit: checksums receipts under that lock
//   /checkout?items=N  demo::Checkout: prices a cart (demo::PriceCart) in
//                      microseconds, but one call in 20 first waits 150 ms
//                      (demo::WaitForInventory) and then burns 100 ms of
//                      CPU in demo::PriceCart: a slow request for
//                      auto-capture (/debug/pprof/captures)
// Every handler runs in an inprof::RequestScope named after its route
// ("GET /primes"), so each profile's samples carry the label endpoint=route
// (`go tool pprof -tagfocus='endpoint=GET /primes' ...`).
// With --load, a few threads call these endpoints over loopback in a loop, so
// a profile taken at any moment shows all of them, and the mutex and block
// profiles show the ledger's lock; every eighth request of each thread is a
// /checkout, so a slow one comes along every few seconds.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "examples/demo_server/work.h"
#include "httplib.h"
#include "inprof/agent.h"
#include "inprof/request.h"

namespace {

constexpr char kUsage[] =
    "usage: demo_server [--port=N] [--load] [--load-threads=N] "
    "[--duration=SECONDS] [--help]\n"
    "  --port=N          HTTP port of the demo endpoints (default 8080; 0 = "
    "any free port)\n"
    "  --load            call our own endpoints from --load-threads threads "
    "(default off)\n"
    "  --no-load         do not generate load\n"
    "  --load-threads=N  load generator threads, 1..64 (default 2)\n"
    "  --duration=S      exit after S seconds, 0..86400 (default 0 = until "
    "Ctrl-C)\n"
    "The inprof agent listens on INPROF_ADDR (default 127.0.0.1:6060);\n"
    "README.md lists the other INPROF_* variables.\n";

struct Flags {
  int port = 8080;
  bool load = false;
  int load_threads = 2;
  int duration_seconds = 0;
};

// Parses a whole decimal integer in [min, max].
std::optional<int64_t> ParseInt(std::string_view text, int64_t min,
                                int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min ||
      value > max) {
    return std::nullopt;
  }
  return value;
}

// Parses argv. On a bad flag returns nullopt and sets *error to one line;
// on --help returns nullopt with *error empty.
std::optional<Flags> ParseFlags(int argc, char** argv, std::string* error) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto int_flag = [&](int64_t min, int64_t max, int* out) {
      if (!value && i + 1 < argc) value = argv[++i];
      if (!value) {
        *error = std::string(name) + " needs a value";
        return false;
      }
      std::optional<int64_t> parsed = ParseInt(*value, min, max);
      if (!parsed) {
        *error = std::string(name) + "=" + std::string(*value) +
                 ": must be an integer between " + std::to_string(min) +
                 " and " + std::to_string(max);
        return false;
      }
      *out = static_cast<int>(*parsed);
      return true;
    };
    if (name == "--help" || name == "-h") {
      *error = "";
      return std::nullopt;
    } else if (name == "--port") {
      if (!int_flag(0, 65535, &flags.port)) return std::nullopt;
    } else if (name == "--load-threads") {
      if (!int_flag(1, 64, &flags.load_threads)) return std::nullopt;
    } else if (name == "--duration") {
      if (!int_flag(0, 86400, &flags.duration_seconds)) return std::nullopt;
    } else if ((name == "--load" || name == "--no-load") && !value) {
      flags.load = name == "--load";
    } else {
      *error = "unknown flag '" + std::string(arg) + "'";
      return std::nullopt;
    }
  }
  return flags;
}

// Set by SIGINT/SIGTERM, polled by main(): the handler does nothing else.
volatile std::sig_atomic_t g_stop_requested = 0;

extern "C" void OnStopSignal(int) { g_stop_requested = 1; }

void InstallStopHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A load-generator connection closed mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

// Reads the integer query parameter `name` in [min, max]; on failure answers
// 400 with a one-line reason and returns nullopt.
std::optional<int64_t> IntParam(const httplib::Request& request,
                                httplib::Response& response,
                                const std::string& name, int64_t min,
                                int64_t max) {
  std::string text = request.get_param_value(name);
  std::optional<int64_t> value = ParseInt(text, min, max);
  if (!value) {
    response.status = 400;
    response.set_content(name + "=" + text + ": must be an integer between " +
                             std::to_string(min) + " and " +
                             std::to_string(max) + "\n",
                         "text/plain");
  }
  return value;
}

using Handler =
    std::function<void(const httplib::Request&, httplib::Response&)>;

// Names the calling thread once (cpp-httplib's workers are unnamed), so
// that a thread dump (/debug/pprof/goroutine?debug=2) tells them apart.
void NameThisThread(const char* name) {
  thread_local bool named = false;
  if (named) return;
  named = true;
  pthread_setname_np(pthread_self(), name);
}

// Serves GET `path` with `handler`, inside an inprof::RequestScope named
// after the route ("GET /primes"): every sample taken while the handler runs
// carries endpoint="GET /primes". The route, never the URL: a label set per
// distinct value, and the registry of them is bounded (inprof/request.h).
void Route(httplib::Server& server, const std::string& path, Handler handler) {
  server.Get(path,
             [endpoint = "GET " + path, handler = std::move(handler)](
                 const httplib::Request& request, httplib::Response& response) {
               NameThisThread("http-worker");
               inprof::RequestScope scope(endpoint);
               handler(request, response);
             });
}

void AddRoutes(httplib::Server& server) {
  Route(server, "/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(
        "demo_server endpoints:\n"
        "  /primes?n=N      (1..2000000)   count primes by trial division\n"
        "  /hash?rounds=N   (1..50000000)  run a 64-bit hash chain\n"
        "  /sort?n=N        (1..5000000)   sort N random numbers\n"
        "  /cache?kb=N      (1..1024)      keep an N KiB blob in a 64 MiB "
        "cache\n"
        "  /ledger?rounds=N (1..5000000)   append to a shared, locked ledger\n"
        "  /audit?entries=N (1..256)       checksum the ledger's last "
        "receipts\n"
        "  /checkout?items=N (1..100)      price a cart; one in 20 is slow\n",
        "text/plain");
  });
  Route(server, "/primes",
        [](const httplib::Request& request, httplib::Response& response) {
          if (auto n = IntParam(request, response, "n", 1, demo::kMaxPrimesN)) {
            response.set_content(std::to_string(demo::CountPrimes(*n)) + "\n",
                                 "text/plain");
          }
        });
  Route(server, "/hash",
        [](const httplib::Request& request, httplib::Response& response) {
          if (auto rounds = IntParam(request, response, "rounds", 1,
                                     demo::kMaxHashRounds)) {
            response.set_content(
                std::to_string(demo::HashChain(42, *rounds)) + "\n",
                "text/plain");
          }
        });
  Route(server, "/sort",
        [](const httplib::Request& request, httplib::Response& response) {
          if (auto n = IntParam(request, response, "n", 1, demo::kMaxSortN)) {
            response.set_content(std::to_string(demo::SortRandom(7, *n)) + "\n",
                                 "text/plain");
          }
        });
  Route(server, "/cache",
        [](const httplib::Request& request, httplib::Response& response) {
          static std::atomic<uint64_t> next_id{0};
          if (auto kib =
                  IntParam(request, response, "kb", 1, demo::kMaxSessionKiB)) {
            response.set_content(
                std::to_string(demo::CacheSession(next_id++, *kib)) + "\n",
                "text/plain");
          }
        });
  Route(server, "/ledger",
        [](const httplib::Request& request, httplib::Response& response) {
          static std::atomic<uint64_t> next_id{0};
          if (auto rounds = IntParam(request, response, "rounds", 1,
                                     demo::kMaxLedgerRounds)) {
            response.set_content(
                std::to_string(demo::AppendToLedger(next_id++, *rounds)) + "\n",
                "text/plain");
          }
        });
  Route(server, "/audit",
        [](const httplib::Request& request, httplib::Response& response) {
          if (auto entries = IntParam(request, response, "entries", 1,
                                      demo::kLedgerKeptEntries)) {
            response.set_content(
                std::to_string(demo::AuditLedger(*entries)) + "\n",
                "text/plain");
          }
        });
  Route(server, "/checkout",
        [](const httplib::Request& request, httplib::Response& response) {
          if (auto items = IntParam(request, response, "items", 1,
                                    demo::kMaxCartItems)) {
            response.set_content(std::to_string(demo::Checkout(*items)) + "\n",
                                 "text/plain");
          }
        });
  server.set_exception_handler([](const httplib::Request&,
                                  httplib::Response& response,
                                  std::exception_ptr) {
    response.status = 500;
    response.set_content("internal error\n", "text/plain");
  });
}

// LoadGenerator
//
// Calls the demo endpoints over loopback from `threads` threads until
// Stop(), with request sizes that take a few milliseconds each.
//
// Thread safety: Stop() and the counters from any thread.
class LoadGenerator {
 public:
  LoadGenerator(int port, int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, port, i] { Run(port, i); });
    }
  }
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;
  ~LoadGenerator() { Stop(); }

  // Asks every thread to finish its current request and joins them.
  void Stop() {
    stop_.store(true);
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  uint64_t succeeded() const { return succeeded_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  static constexpr uint64_t kCheckoutEvery = 8;

  void Run(int port, int index) {
    NameThisThread("demo-load");
    httplib::Client client("127.0.0.1", port);
    client.set_keep_alive(true);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(30, 0);
    uint64_t state = 0x1234567ULL + static_cast<uint64_t>(index);
    uint64_t requests = 0;
    while (!stop_.load()) {
      // A cheap LCG picks each request and varies its size a little. Half
      // the requests take the ledger's lock (to append or to audit), and
      // the threads pick independently, so they meet on it at random rather
      // than in step.
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const int64_t jitter = static_cast<int64_t>((state >> 33) % 1000);
      const uint64_t pick = (state >> 43) % 8;
      std::string path;
      switch (pick) {
        case 0:
          path = "/primes?n=" + std::to_string(100'000 + jitter * 50);
          break;
        case 2:
          path = "/hash?rounds=" + std::to_string(2'000'000 + jitter * 1000);
          break;
        case 4:
          path = "/sort?n=" + std::to_string(150'000 + jitter * 100);
          break;
        case 6:
          path = "/cache?kb=" + std::to_string(64 + jitter % 256);
          break;
        case 3:
        case 7:
          path = "/audit?entries=" + std::to_string(64 + jitter % 193);
          break;
        default:
          path = "/ledger?rounds=" + std::to_string(4'000'000 + jitter * 1000);
          break;
      }
      // Every kCheckoutEvery-th request of each thread is a checkout instead,
      // leaving the others' proportions as they were; demo::Checkout makes
      // one in 20 of them slow, for auto-capture.
      if (++requests % kCheckoutEvery == 0) {
        path = "/checkout?items=" + std::to_string(1 + jitter % 20);
      }
      httplib::Result result = client.Get(path.c_str());
      if (result && result->status == 200) {
        succeeded_.fetch_add(1);
      } else {
        failed_.fetch_add(1);
        // Back off instead of spinning while the server is unreachable.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> succeeded_{0};
  std::atomic<uint64_t> failed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  std::optional<Flags> flags = ParseFlags(argc, argv, &error);
  if (!flags && error.empty()) {  // --help
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags) {
    std::fprintf(stderr, "demo_server: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  InstallStopHandlers();

  // The two lines of embedding.
  auto agent = inprof::Agent::Start(inprof::Options::FromEnvironment());
  if (!agent.ok()) {
    std::fprintf(stderr,
                 "demo_server: inprof agent did not start: %s\n"
                 "(if the port is taken, INPROF_ADDR=127.0.0.1:0 picks a free "
                 "one)\n",
                 agent.status().ToString().c_str());
    return 1;
  }

  httplib::Server server;
  AddRoutes(server);
  int port = flags->port;
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "demo_server: cannot listen on 127.0.0.1:%d\n",
                 flags->port);
    return 1;
  }
  std::thread server_thread([&server] { server.listen_after_bind(); });
  while (!server.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  std::string profile_url = agent->url() + "/debug/pprof/profile?seconds=10";
  std::string heap_url = agent->url() + "/debug/pprof/heap";
  std::string mutex_url = agent->url() + "/debug/pprof/mutex";
  std::string block_url = agent->url() + "/debug/pprof/block";
  std::printf(
      "demo_server: serving http://127.0.0.1:%d/ (/primes /hash /sort "
      "/cache /ledger /audit /checkout)\n"
      "inprof agent: %s/debug/pprof/\n"
      "load generator: %s\n"
      "Try:\n"
      "  go tool pprof -top '%s'\n"
      "  go tool pprof -http=:8081 '%s'\n"
      "  go tool pprof -top %s\n"
      "  go tool pprof -top %s\n"
      "  go tool pprof -top %s\n"
      "  go tool pprof -top -tagfocus='endpoint=GET /primes' '%s'\n"
      "  curl -s %s/debug/allocator\n"
      "  curl -s '%s/debug/pools?format=text'\n"
      "Ctrl-C stops.\n",
      port, agent->url().c_str(),
      flags->load ? (std::to_string(flags->load_threads) + " threads").c_str()
                  : "off (--load turns it on)",
      profile_url.c_str(), profile_url.c_str(), heap_url.c_str(),
      mutex_url.c_str(), block_url.c_str(), profile_url.c_str(),
      agent->url().c_str(), agent->url().c_str());
  std::fflush(stdout);

  std::optional<LoadGenerator> load;
  if (flags->load) load.emplace(port, flags->load_threads);

  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(flags->duration_seconds);
  while (!g_stop_requested && (flags->duration_seconds == 0 ||
                               std::chrono::steady_clock::now() < deadline)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::printf("demo_server: stopping\n");
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  if (load) {
    load->Stop();
    succeeded = load->succeeded();
    failed = load->failed();
  }
  server.stop();
  server_thread.join();
  agent->Stop();
  if (flags->load) {
    std::printf("demo_server: load generator made %" PRIu64
                " requests (%" PRIu64 " failed)\n",
                succeeded + failed, failed);
    if (succeeded == 0) {
      std::fprintf(stderr,
                   "demo_server: the load generator never reached the "
                   "server\n");
      return 1;
    }
  }
  return 0;
}
