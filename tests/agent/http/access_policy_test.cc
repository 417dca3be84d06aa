// Who may talk to the agent (issue 12, item 7): requests naming a foreign
// Host (DNS rebinding) and cross-origin requests (CSRF from a web page) are
// refused; loopback names and the bound address are allowed, with or
// without the port.
#include "agent/http/access_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>
#include <vector>

#include "agent/http/server.h"
#include "tests/agent/http/raw_connection.h"

namespace inprof::internal {
namespace {

using test::ParseResponse;
using test::RawConnection;
using test::RawResponse;

void InstallRoutes(httplib::Server& server, const std::function<bool()>&) {
  server.Get("/debug/pprof/cmdline",
             [](const httplib::Request&, httplib::Response& res) {
               res.set_content("argv", "text/plain");
             });
  server.Post("/debug/heap/rate",
              [](const httplib::Request&, httplib::Response& res) {
                res.set_content("rate set", "text/plain");
              });
}

class AccessPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(HttpServerOptions{}); }

  void Start(HttpServerOptions options) {
    server_.reset();
    options.port = 0;
    auto server = HttpServer::Start(options, InstallRoutes);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    port_ = std::to_string(server_->port());
  }

  // Sends `method path` with `headers` (each ending in \r\n) as given.
  RawResponse Send(const std::string& method, const std::string& path,
                   const std::string& headers) {
    RawConnection conn(server_->port());
    EXPECT_TRUE(conn.ok());
    std::string request = method + " " + path + " HTTP/1.1\r\n" + headers;
    if (method == "POST") request += "Content-Length: 0\r\n";
    EXPECT_TRUE(conn.Send(request + "\r\n"));
    return ParseResponse(conn.ReadResponse());
  }

  RawResponse GetWithHost(const std::string& host) {
    return Send("GET", "/debug/pprof/cmdline", "Host: " + host + "\r\n");
  }

  std::unique_ptr<HttpServer> server_;
  std::string port_;
};

TEST_F(AccessPolicyTest, LoopbackHostsAreAllowedWithOrWithoutPort) {
  for (const std::string& host : std::vector<std::string>{
           "127.0.0.1", "127.0.0.1:" + port_, "localhost", "localhost:" + port_,
           "LocalHost:" + port_, "[::1]", "[::1]:" + port_}) {
    SCOPED_TRACE(host);
    RawResponse res = GetWithHost(host);
    EXPECT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.body, "argv");
  }
}

TEST_F(AccessPolicyTest, RequestWithoutHostIsAllowed) {
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /debug/pprof/cmdline HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(ParseResponse(conn.ReadResponse()).status, 200);
}

TEST_F(AccessPolicyTest, ForeignHostIsRefused) {
  for (const std::string& host : std::vector<std::string>{
           "evil.example", "evil.example:" + port_, "127.0.0.1.evil.example",
           "localhost.evil.example:" + port_, "[::2]:" + port_}) {
    SCOPED_TRACE(host);
    RawResponse res = GetWithHost(host);
    EXPECT_EQ(res.status, 403) << res.body;
    EXPECT_EQ(res.Header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_THAT(res.body, ::testing::StartsWith("Host: "));
    EXPECT_THAT(res.body, ::testing::HasSubstr("INPROF_ALLOWED_HOSTS"));
    EXPECT_EQ(res.body.find('\n'), res.body.size() - 1);
  }
  EXPECT_EQ(GetWithHost("evil.example").body,
            "Host: evil.example is not an allowed name for this agent "
            "(DNS rebinding?); add it to INPROF_ALLOWED_HOSTS\n");
}

TEST_F(AccessPolicyTest, CrossOriginRequestsAreRefused) {
  const std::string host = "Host: 127.0.0.1:" + port_ + "\r\n";
  for (const std::string& origin : std::vector<std::string>{
           "http://evil.example", "http://127.0.0.1:1",
           "https://127.0.0.1:" + port_, "http://localhost:" + port_, "null"}) {
    SCOPED_TRACE(origin);
    RawResponse post = Send("POST", "/debug/heap/rate?bytes=1",
                            host + "Origin: " + origin + "\r\n");
    EXPECT_EQ(post.status, 403) << post.body;
    EXPECT_EQ(post.body, "Origin: " + origin +
                             " is not this agent's origin; cross-site "
                             "requests are refused\n");
    RawResponse get = Send("GET", "/debug/pprof/cmdline",
                           host + "Origin: " + origin + "\r\n");
    EXPECT_EQ(get.status, 403) << get.body;
  }
}

TEST_F(AccessPolicyTest, SameOriginRequestsAreAllowed) {
  RawResponse res = Send("POST", "/debug/heap/rate?bytes=1",
                         "Host: 127.0.0.1:" + port_ +
                             "\r\nOrigin: http://127.0.0.1:" + port_ + "\r\n");
  EXPECT_EQ(res.status, 200) << res.body;
  res = Send("POST", "/debug/heap/rate?bytes=1",
             "Host: localhost:" + port_ +
                 "\r\nOrigin: http://LOCALHOST:" + port_ + "\r\n");
  EXPECT_EQ(res.status, 200) << res.body;
  // Without a Host header the origin must name an allowed host and our port.
  res = Send("POST", "/debug/heap/rate?bytes=1",
             "Origin: http://[::1]:" + port_ + "\r\n");
  EXPECT_EQ(res.status, 200) << res.body;
}

TEST_F(AccessPolicyTest, MoreHostsCanBeAllowed) {
  HttpServerOptions options;
  options.allowed_hosts = {"Profiler.Example:8080", "10.0.0.7"};
  Start(options);
  EXPECT_EQ(GetWithHost("profiler.example:" + port_).status, 200);
  EXPECT_EQ(GetWithHost("10.0.0.7").status, 200);
  EXPECT_EQ(GetWithHost("127.0.0.1").status, 200);
  EXPECT_EQ(GetWithHost("evil.example").status, 403);
  options.allowed_hosts = {"*"};
  Start(options);
  EXPECT_EQ(GetWithHost("anything.example").status, 200);
}

TEST_F(AccessPolicyTest, BoundAddressIsAnAllowedHost) {
  HttpServerOptions options;
  options.host = "::1";
  Start(options);
  httplib::Client client("::1", server_->port());
  httplib::Result res = client.Get("/debug/pprof/cmdline");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
}

class TokenTest : public AccessPolicyTest {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.token = "s3cret-Token_1.0~";
    Start(options);
  }
  static std::string Basic(const std::string& credentials) {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < credentials.size(); i += 3) {
      const unsigned v = static_cast<unsigned char>(credentials[i]) << 16 |
                         static_cast<unsigned char>(credentials[i + 1]) << 8 |
                         static_cast<unsigned char>(credentials[i + 2]);
      for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
    }
    const size_t left = credentials.size() - i;
    if (left > 0) {
      unsigned v = static_cast<unsigned char>(credentials[i]) << 16;
      if (left == 2) v |= static_cast<unsigned char>(credentials[i + 1]) << 8;
      out += kAlphabet[(v >> 18) & 63];
      out += kAlphabet[(v >> 12) & 63];
      out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
      out += '=';
    }
    return out;
  }
  RawResponse GetWith(const std::string& path, const std::string& headers) {
    return Send("GET", path, "Host: 127.0.0.1:" + port_ + "\r\n" + headers);
  }
};

TEST_F(TokenTest, RequestsWithoutTheTokenAre401) {
  for (const std::string& auth : std::vector<std::string>{
           "", "Authorization: Bearer wrong\r\n",
           "Authorization: Bearer s3cret-Token_1.0\r\n",
           "Authorization: Bearer s3cret-Token_1.0~~\r\n",
           "Authorization: Basic " + Basic("inprof:wrong") + "\r\n",
           "Authorization: Basic !!!\r\n"}) {
    SCOPED_TRACE(auth);
    RawResponse res = GetWith("/debug/pprof/cmdline", auth);
    EXPECT_EQ(res.status, 401);
    EXPECT_EQ(res.body,
              "this agent needs its token: send \"Authorization: Bearer "
              "TOKEN\", or fetch http://inprof:TOKEN@HOST:PORT/... (go tool "
              "pprof), or add ?token=TOKEN\n");
    EXPECT_THAT(res.head, ::testing::HasSubstr(
                              "\r\nWWW-Authenticate: Basic realm=\"inprof\""));
  }
  EXPECT_EQ(GetWith("/debug/pprof/cmdline?token=wrong", "").status, 401);
  // Unknown paths too: nothing is served without the token.
  EXPECT_EQ(GetWith("/nowhere", "").status, 401);
}

TEST_F(TokenTest, EveryFormOfTheTokenIsAccepted) {
  const std::string token = "s3cret-Token_1.0~";
  for (const std::string& auth : std::vector<std::string>{
           "Authorization: Bearer " + token + "\r\n",
           "Authorization: bearer " + token + "\r\n",
           "Authorization: Basic " + Basic("inprof:" + token) + "\r\n",
           "Authorization: Basic " + Basic(token + ":") + "\r\n"}) {
    SCOPED_TRACE(auth);
    EXPECT_EQ(GetWith("/debug/pprof/cmdline", auth).status, 200);
  }
  EXPECT_EQ(GetWith("/debug/pprof/cmdline?token=" + token, "").status, 200);
}

TEST(AccessPolicyUnitTest, HostNames) {
  EXPECT_EQ(AccessPolicy::HostName("[::1]:6060"), "::1");
  EXPECT_EQ(AccessPolicy::HostName("[::1]"), "::1");
  EXPECT_EQ(AccessPolicy::HostName("::1"), "::1");
  EXPECT_EQ(AccessPolicy::HostName("LocalHost:80"), "localhost");
  EXPECT_EQ(AccessPolicy::HostName("example.org."), "example.org");
  EXPECT_EQ(AccessPolicy::HostName("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(AccessPolicy::HostName("host:port"), "");
  EXPECT_EQ(AccessPolicy::HostName("host:"), "");
  EXPECT_EQ(AccessPolicy::HostName("[::1:6060"), "");
}

TEST(AccessPolicyUnitTest, TokensMustSurviveUrls) {
  EXPECT_TRUE(AccessPolicy::ValidateToken("").ok());
  EXPECT_TRUE(AccessPolicy::ValidateToken("aZ09-._~").ok());
  for (const char* bad : {"a b", "a+b", "a/b", "a%41", "a:b", "a@b", "a\n"}) {
    SCOPED_TRACE(bad);
    Status status = AccessPolicy::ValidateToken(bad);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              "token: only letters, digits and -._~ are allowed (it travels "
              "in URLs and headers)");
  }
  EXPECT_EQ(AccessPolicy::ValidateToken(std::string(257, 'a')).message(),
            "token: longer than 256 characters");
  HttpServerOptions options;
  options.port = 0;
  options.token = "no spaces";
  EXPECT_FALSE(HttpServer::Start(options, InstallRoutes).ok());
}

}  // namespace
}  // namespace inprof::internal
