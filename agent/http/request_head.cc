#include "agent/http/request_head.h"

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Digits only: no sign, no spaces inside, no hex, at most 19 digits so that
// the value fits in 64 bits.
std::optional<uint64_t> ParseLength(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.front() == '+' ||
      text.front() == '-') {
    return std::nullopt;
  }
  return value;
}

HeadVerdict Refuse(int status, std::string reason) {
  HeadVerdict verdict;
  verdict.status = status;
  verdict.reason = std::move(reason);
  return verdict;
}

}  // namespace

size_t RequestHeadLength(std::string_view buffer) {
  const size_t end = buffer.find("\r\n\r\n");
  return end == std::string_view::npos ? 0 : end + 4;
}

HeadVerdict CheckRequestHead(std::string_view head, const HeadLimits& limits) {
  // The request line: METHOD SP TARGET SP HTTP/x.y
  const size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 =
      sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1 ||
      line.find(' ', sp2 + 1) != std::string_view::npos ||
      !line.substr(sp2 + 1).starts_with("HTTP/")) {
    return Refuse(400, "malformed request line: " + OneLine(line, 64));
  }
  const std::string method(line.substr(0, sp1));
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string path(target.substr(0, target.find('?')));

  int header_count = 0;
  std::optional<uint64_t> content_length;
  std::string_view rest =
      line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    const size_t end = rest.find("\r\n");
    const std::string_view field = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
    if (field.empty()) break;  // the blank line that ends the head
    if (++header_count > limits.max_header_count) {
      return Refuse(431, "more than " +
                             std::to_string(limits.max_header_count) +
                             " header fields");
    }
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;  // httplib skips it too
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = Trim(field.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      return Refuse(411, "Transfer-Encoding: " + OneLine(value, 32) +
                             ": request bodies must have a Content-Length");
    }
    if (EqualsIgnoreCase(name, "Content-Length")) {
      const std::optional<uint64_t> parsed = ParseLength(value);
      if (!parsed) {
        return Refuse(400, "Content-Length: " + OneLine(value, 32) +
                               ": not a byte count");
      }
      if (content_length && *content_length != *parsed) {
        return Refuse(400, "conflicting Content-Length headers");
      }
      content_length = parsed;
    }
  }

  uint64_t max_bytes = 0;
  for (const BodyLimit& limit : limits.body_limits) {
    if (limit.method == method && limit.path == path) {
      max_bytes = limit.max_bytes;
      break;
    }
  }
  const std::string route = method + " " + OneLine(path, 64);
  if (!content_length) {
    HeadVerdict verdict;
    verdict.add_empty_length =
        method == "POST" || method == "PUT" || method == "PATCH";
    return verdict;
  }
  if (*content_length > max_bytes) {
    if (max_bytes == 0) {
      return Refuse(413, route + " takes no request body (Content-Length: " +
                             std::to_string(*content_length) + ")");
    }
    return Refuse(
        413, route + ": a request body of " + std::to_string(*content_length) +
                 " bytes is over the limit of " + std::to_string(max_bytes));
  }
  HeadVerdict verdict;
  verdict.body_bytes = *content_length;
  return verdict;
}

}  // namespace inprof::internal
