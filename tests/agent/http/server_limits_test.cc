// What a client can make the agent's HTTP server hold (issue 12, item 5):
// bodies are capped per route and refused before they are read, request
// heads are bounded, and slow or lying clients lose their worker. Tests judge
// by what the server answers and in which order, never by wall-clock time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "agent/http/server.h"
#include "tests/agent/http/raw_connection.h"

namespace inprof::internal {
namespace {

using test::ParseResponse;
using test::RawConnection;
using test::RawResponse;
using ::testing::HasSubstr;

// /hello; POST /debug/pprof/symbol answers how many body bytes it got (the
// one route with a body cap by default); POST /mutate takes no body.
void InstallRoutes(httplib::Server& server, const std::function<bool()>&) {
  server.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello", "text/plain");
  });
  server.Post("/debug/pprof/symbol", [](const httplib::Request& req,
                                        httplib::Response& res) {
    res.set_content("got " + std::to_string(req.body.size()) + " bytes",
                    "text/plain");
  });
  server.Post("/mutate", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("mutated", "text/plain");
  });
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = HttpServer::Start(options, InstallRoutes);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

RawResponse Exchange(int port, const std::string& request) {
  RawConnection conn(port);
  EXPECT_TRUE(conn.ok());
  EXPECT_TRUE(conn.Send(request));
  return ParseResponse(conn.ReadResponse());
}

void ExpectOneLineError(const RawResponse& res, int status,
                        const std::string& message) {
  EXPECT_EQ(res.status, status) << res.head;
  EXPECT_EQ(res.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(res.body, message + "\n");
}

// GET /hello on a new connection; the client waits up to 60 s, far longer
// than any server timeout, so that only a server that never answers fails.
httplib::Result Hello(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  client.set_write_timeout(60, 0);
  return client.Get("/hello");
}

TEST(HttpServerLimitsTest, OversizedBodyIsRefusedBeforeItIsSent) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(
      conn.Send("POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Length: 104857600\r\n\r\n"));
  // Not one byte of the body was sent, so an answer proves that the server
  // decided on the head alone.
  RawResponse res = ParseResponse(conn.ReadResponse());
  ExpectOneLineError(res, 413,
                     "POST /debug/pprof/symbol: a request body of 104857600 "
                     "bytes is over the limit of 1048576");
  EXPECT_EQ(res.Header("Connection"), "close");
  EXPECT_TRUE(conn.WaitForClose());
}

TEST(HttpServerLimitsTest, BodyUpToTheCapIsRead) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string body(1 << 20, '+');
  RawResponse res =
      Exchange(server->port(),
               "POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Content-Length: 1048576\r\n\r\n" +
                   body);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "got 1048576 bytes");
}

TEST(HttpServerLimitsTest, RoutesWithoutABodyRefuseOne) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ExpectOneLineError(
      Exchange(server->port(),
               "POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               "Content-Length: 7\r\n\r\nbytes=1"),
      413, "POST /mutate takes no request body (Content-Length: 7)");
  ExpectOneLineError(Exchange(server->port(),
                              "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Length: 5\r\n\r\nabcde"),
                     413,
                     "GET /hello takes no request body (Content-Length: 5)");
  // An empty body is no body.
  RawResponse empty = Exchange(server->port(),
                               "POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(empty.status, 200);
}

TEST(HttpServerLimitsTest, BadOrMissingBodyLengthsAreRefused) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ExpectOneLineError(
      Exchange(server->port(),
               "POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Content-Length: abc\r\n\r\n"),
      400, "Content-Length: abc: not a byte count");
  ExpectOneLineError(
      Exchange(server->port(),
               "POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Content-Length: 3\r\nContent-Length: 4\r\n\r\n0x1"),
      400, "conflicting Content-Length headers");
  ExpectOneLineError(
      Exchange(server->port(),
               "POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Transfer-Encoding: chunked\r\n\r\n3\r\n0x1\r\n0\r\n\r\n"),
      411,
      "Transfer-Encoding: chunked: request bodies must have a "
      "Content-Length");
}

// A POST with no body and no length at all (`curl -X POST`): an empty body
// (RFC 7230, 3.3.3), served, and the connection stays usable.
TEST(HttpServerLimitsTest, APostWithoutALengthHasAnEmptyBody) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn.Send(
      "POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  RawResponse first = ParseResponse(conn.ReadResponse());
  EXPECT_EQ(first.status, 200) << first.head;
  EXPECT_EQ(first.body, "got 0 bytes");
  ASSERT_TRUE(conn.Send("POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  RawResponse second = ParseResponse(conn.ReadResponse());
  EXPECT_EQ(second.status, 200) << second.head;
  EXPECT_EQ(second.body, "mutated");
}

TEST(HttpServerLimitsTest, HeadsAreBounded) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  std::string many = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  ExpectOneLineError(Exchange(server->port(), many + "\r\n"), 431,
                     "more than 64 header fields");
  ExpectOneLineError(Exchange(server->port(),
                              "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "X-Big: " +
                                  std::string(20000, 'a') + "\r\n\r\n"),
                     431, "request head larger than 16384 bytes");
  ExpectOneLineError(Exchange(server->port(), "NONSENSE\r\n\r\n"), 400,
                     "malformed request line: NONSENSE");
}

TEST(HttpServerLimitsTest, KeepAliveAndPipeliningStillWork) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  const std::string get = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_TRUE(conn.Send(get + get));
  EXPECT_EQ(ParseResponse(conn.ReadResponse()).body, "hello");
  EXPECT_EQ(ParseResponse(conn.ReadResponse()).body, "hello");
  ASSERT_TRUE(
      conn.Send("POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Length: 3\r\n\r\n0x1" +
                get));
  EXPECT_EQ(ParseResponse(conn.ReadResponse()).body, "got 3 bytes");
  EXPECT_EQ(ParseResponse(conn.ReadResponse()).body, "hello");
}

// A client that promised more body than it sends gets a 408 once it stops
// sending (the read timeout), with a reason.
TEST(HttpServerLimitsTest, LyingContentLengthGets408) {
  HttpServerOptions options;
  options.read_timeout_seconds = 1;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawConnection liar(server->port());
  ASSERT_TRUE(
      liar.Send("POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Length: 1000\r\n\r\n0x1+0x2"));
  RawResponse res = ParseResponse(liar.ReadResponse());
  EXPECT_EQ(res.status, 408) << res.head;
  EXPECT_THAT(res.body, HasSubstr("request not received in time"));
  EXPECT_TRUE(liar.WaitForClose());
}

// Sends one byte of `request` after another, paced, until the server answers
// or drops the connection (or `stop` is set). Returns whether it was the
// server that ended it.
bool Trickle(RawConnection& conn, const std::string& prefix, char filler,
             const std::atomic<bool>& stop) {
  if (!conn.Send(prefix)) return true;
  // 2400 bytes 50 ms apart: long enough that only a server deadline on the
  // whole request, not one per read, can end it first.
  for (int i = 0; i < 2400 && !stop.load(); ++i) {
    if (conn.Readable()) return true;
    if (!conn.Send(std::string(1, filler))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// With one worker, a client trickling a lying body forever must not keep
// it: /hello is answered, which on one worker can only happen after the
// liar was dropped.
TEST(HttpServerLimitsTest, TricklingBodyDoesNotKeepTheOnlyWorker) {
  HttpServerOptions options;
  options.threads = 1;
  options.request_timeout_seconds = 2;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawConnection liar(server->port());
  std::atomic<bool> stop{false};
  std::atomic<bool> dropped{false};
  std::thread trickler([&] {
    dropped = Trickle(liar,
                      "POST /debug/pprof/symbol HTTP/1.1\r\n"
                      "Host: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n0x1",
                      '+', stop);
  });
  httplib::Result hello = Hello(server->port());
  // On one worker, an answer means the trickler was dropped already: it
  // sees that at its next step. Without one, stop it.
  if (!hello) stop = true;
  trickler.join();
  ASSERT_TRUE(hello) << httplib::to_string(hello.error());
  EXPECT_EQ(hello->body, "hello");
  EXPECT_TRUE(dropped);
  RawResponse res = ParseResponse(liar.ReadResponse());
  EXPECT_EQ(res.status, 408) << res.head;
}

// The same for a head that never ends (slowloris).
TEST(HttpServerLimitsTest, TricklingHeadDoesNotKeepTheOnlyWorker) {
  HttpServerOptions options;
  options.threads = 1;
  options.request_timeout_seconds = 2;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawConnection slow(server->port());
  std::atomic<bool> stop{false};
  std::atomic<bool> dropped{false};
  std::thread trickler([&] {
    dropped = Trickle(
        slow, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", 'a', stop);
  });
  httplib::Result hello = Hello(server->port());
  // On one worker, an answer means the trickler was dropped already: it
  // sees that at its next step. Without one, stop it.
  if (!hello) stop = true;
  trickler.join();
  ASSERT_TRUE(hello) << httplib::to_string(hello.error());
  EXPECT_EQ(hello->body, "hello");
  EXPECT_TRUE(dropped);
}

// Connections over the cap are answered 503 and closed at once, by the
// accepting thread: here both workers are busy, and the refusal still comes.
TEST(HttpServerLimitsTest, ConnectionsOverTheCapAreRefusedAtOnce) {
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  bool release = false;
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  options.max_connections = 2;
  auto started = HttpServer::Start(
      options, [&](httplib::Server& s, const std::function<bool()>&) {
        s.Get("/wait", [&](const httplib::Request&, httplib::Response& res) {
          std::unique_lock<std::mutex> lock(mu);
          ++inside;
          cv.notify_all();
          cv.wait(lock, [&] { return release; });
          res.set_content("done", "text/plain");
        });
        s.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
          res.set_content("hello", "text/plain");
        });
      });
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  const int port = (*started)->port();
  RawConnection first(port);
  RawConnection second(port);
  const std::string wait = "GET /wait HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_TRUE(first.Send(wait));
  ASSERT_TRUE(second.Send(wait));
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return inside == 2; });
  }
  RawConnection third(port);
  RawResponse refused = ParseResponse(third.ReadResponse());
  ExpectOneLineError(refused, 503,
                     "too many open connections (limit 2); retry later");
  EXPECT_EQ(refused.Header("Connection"), "close");
  EXPECT_TRUE(third.WaitForClose());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  EXPECT_EQ(ParseResponse(first.ReadResponse()).body, "done");
  EXPECT_EQ(ParseResponse(second.ReadResponse()).body, "done");
  first.Close();
  second.Close();
  // Once they are gone, new connections are served again.
  std::string body;
  for (int i = 0; i < 1000 && body != "hello"; ++i) {
    httplib::Result hello = Hello(port);
    if (hello && hello->status == 200) {
      body = hello->body;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(body, "hello");
}

TEST(HttpServerLimitsTest, StartRejectsNonsenseLimits) {
  HttpServerOptions options;
  options.port = 0;
  options.max_connections = 0;
  auto server = HttpServer::Start(options, InstallRoutes);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(), "max_connections=0: must be at least 1");
  options.max_connections = 1;
  options.request_timeout_seconds = 0;
  server = HttpServer::Start(options, InstallRoutes);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(),
            "request_timeout_seconds=0: must be at least 1");
}

}  // namespace
}  // namespace inprof::internal
