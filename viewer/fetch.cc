#include "viewer/fetch.h"

#include <httplib.h>

#include <charconv>
#include <vector>

namespace inprof::viewer {
namespace {

struct Url {
  std::string host;
  int port = 80;
  std::string path;  // with the query
};

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Sets `seconds` in the query of `path`, replacing any value there.
std::string WithSeconds(const std::string& path, int seconds) {
  size_t q = path.find('?');
  std::string base = path.substr(0, q);
  std::vector<std::string> params;
  if (q != std::string::npos) {
    std::string_view query = std::string_view(path).substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view param = query.substr(0, amp);
      if (!param.empty() && param.substr(0, param.find('=')) != "seconds") {
        params.emplace_back(param);
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  params.push_back("seconds=" + std::to_string(seconds));
  std::string out = base;
  for (size_t i = 0; i < params.size(); ++i) {
    out += (i == 0 ? "?" : "&") + params[i];
  }
  return out;
}

int SecondsIn(const std::string& path) {
  size_t at = path.find("seconds=");
  if (at == std::string::npos ||
      (at > 0 && path[at - 1] != '?' && path[at - 1] != '&')) {
    return -1;
  }
  int seconds = -1;
  const char* begin = path.data() + at + 8;
  std::from_chars(begin, path.data() + path.size(), seconds);
  return seconds;
}

StatusOr<Url> ParseUrl(std::string_view text) {
  std::string_view rest = text;
  if (rest.starts_with("https://") || rest.starts_with("https+insecure://")) {
    return InvalidArgumentError(
        "https URLs are not supported (inprof-view speaks plain HTTP, as the "
        "agent serves it); fetch the profile with curl and pass the file");
  }
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Url url;
  url.path =
      slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  if (url.path.empty() || url.path == "/") url.path = "/debug/pprof/profile";
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.back() != ']') {
    std::string_view port = authority.substr(colon + 1);
    if (!IsDigits(port) || port.size() > 5) {
      return InvalidArgumentError("bad port in URL " + std::string(text));
    }
    std::from_chars(port.data(), port.data() + port.size(), url.port);
    authority = authority.substr(0, colon);
  }
  if (authority.starts_with('[') && authority.ends_with(']')) {
    authority = authority.substr(1, authority.size() - 2);
  }
  if (authority.empty() || url.port <= 0 || url.port > 65535) {
    return InvalidArgumentError("not a valid URL: " + std::string(text));
  }
  url.host = std::string(authority);
  return url;
}

// The first line of an error answer, for a one-line message.
std::string FirstLine(const std::string& body) {
  std::string line = body.substr(0, body.find('\n'));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

}  // namespace

bool LooksLikeUrl(std::string_view source) {
  if (source.starts_with("http://") || source.starts_with("https://") ||
      source.starts_with("https+insecure://")) {
    return true;
  }
  // host:port[/path], as pprof accepts.
  std::string_view authority = source.substr(0, source.find('/'));
  size_t colon = authority.rfind(':');
  return colon != std::string_view::npos && colon > 0 &&
         IsDigits(authority.substr(colon + 1));
}

StatusOr<std::string> FetchUrl(std::string_view text,
                               const FetchOptions& options) {
  StatusOr<Url> url = ParseUrl(text);
  if (!url.ok()) return url.status();
  if (options.seconds >= 0) url->path = WithSeconds(url->path, options.seconds);
  int seconds = SecondsIn(url->path);
  int timeout = options.timeout_seconds;
  if (timeout <= 0) timeout = seconds > 0 ? seconds * 3 / 2 + 5 : 60;

  httplib::Client client(url->host, url->port);
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(std::chrono::seconds(timeout));
  client.set_write_timeout(std::chrono::seconds(10));
  httplib::Result result = client.Get(url->path);
  std::string where =
      "http://" + url->host + ":" + std::to_string(url->port) + url->path;
  if (!result) {
    return UnavailableError("cannot fetch " + where + ": " +
                            httplib::to_string(result.error()));
  }
  if (result->status != 200) {
    std::string message = "HTTP " + std::to_string(result->status) + " from " +
                          where + ": " + FirstLine(result->body);
    return result->status == 404 ? NotFoundError(message)
                                 : InvalidArgumentError(message);
  }
  return std::move(result->body);
}

}  // namespace inprof::viewer
