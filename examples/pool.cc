// A pooled request object in a cpp-httplib handler: each request takes a
// RequestScratch (a 64 KiB buffer that is costly to allocate) from an
// inprof::Pool instead of allocating one, and the agent's /debug/pools
// shows how often the pool reused one. It serves for a minute:
//
//   curl -s 'http://127.0.0.1:8090/render?n=5000'    # a few times, or in a
//   loop curl -s 'http://127.0.0.1:6060/debug/pools?format=text'
//
// The reuse ratio (hand-outs per creation) grows with every request; the
// pool made only as many objects as requests ran at once.

#include "inprof/pool.h"

#include <httplib.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "inprof/agent.h"

namespace {

struct RequestScratch {
  std::vector<char> buffer = std::vector<char>(64 * 1024);
  size_t used = 0;
};

// Objects come back reset: the buffer keeps its memory, the request's
// contents are gone.
inprof::Pool<RequestScratch> scratch_pool("request_scratch",
                                          [](RequestScratch& scratch) {
                                            scratch.used = 0;
                                          });

void Render(const httplib::Request& request, httplib::Response& response) {
  inprof::PoolPtr<RequestScratch> scratch = scratch_pool.Get();
  const int n = request.has_param("n")
                    ? std::atoi(request.get_param_value("n").c_str())
                    : 1000;
  for (int i = 0; i < n && scratch->used + 16 < scratch->buffer.size(); ++i) {
    scratch->used +=
        std::snprintf(&scratch->buffer[scratch->used], 16, "%d,", i);
  }
  response.set_content(std::string(scratch->buffer.data(), scratch->used),
                       "text/plain");
}  // the scratch object goes back to the pool here

}  // namespace

int main() {
  auto agent = inprof::Agent::Start(inprof::Options::FromEnvironment());
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    return 1;
  }
  httplib::Server server;
  server.Get("/render", Render);
  const int port = server.bind_to_any_port("127.0.0.1");
  std::printf(
      "pool example: http://127.0.0.1:%d/render?n=5000, pools at "
      "%s/debug/pools?format=text\n",
      port, agent->url().c_str());
  std::fflush(stdout);
  std::thread listener([&] { server.listen_after_bind(); });
  std::this_thread::sleep_for(std::chrono::minutes(1));
  server.stop();
  listener.join();
  return 0;
}
