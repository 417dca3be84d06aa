#include "agent/http/params.h"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

StatusOr<int> ParseSecondsValue(std::string_view value, int max_seconds) {
  const std::string shown = "seconds=" + OneLine(value, 32);
  std::string_view digits = value;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  if (digits.empty()) {
    return InvalidArgumentError(shown + ": not an integer");
  }
  for (char c : digits) {
    if (!IsDigit(c)) return InvalidArgumentError(shown + ": not an integer");
  }
  const std::string range =
      ": must be between 1 and " + std::to_string(max_seconds);
  if (negative) return InvalidArgumentError(shown + range);
  // Saturating accumulation: anything beyond max_seconds is out of range,
  // however many digits it has.
  int64_t seconds = 0;
  for (char c : digits) {
    seconds = seconds * 10 + (c - '0');
    if (seconds > max_seconds) return InvalidArgumentError(shown + range);
  }
  if (seconds < 1) return InvalidArgumentError(shown + range);
  return static_cast<int>(seconds);
}

StatusOr<int> ParseProfileSeconds(const httplib::Request& req,
                                  int default_seconds, int max_seconds) {
  if (!req.has_param("seconds")) return default_seconds;
  return ParseSecondsValue(req.get_param_value("seconds"), max_seconds);
}

int ParseDebugValue(const httplib::Request& req) {
  // Go: debug, _ := strconv.Atoi(r.FormValue("debug")).
  const std::string value = req.get_param_value("debug");
  std::string_view digits = value;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative || (!digits.empty() && digits.front() == '+')) {
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 9) return 0;
  int debug = 0;
  for (char c : digits) {
    if (!IsDigit(c)) return 0;
    debug = debug * 10 + (c - '0');
  }
  return negative ? -debug : debug;
}

StatusOr<int64_t> ParseCountParam(std::string_view name,
                                  std::string_view value) {
  const std::string shown = std::string(name) + "=" + OneLine(value, 32);
  if (value.empty()) {
    return InvalidArgumentError(shown + ": not a count (want digits)");
  }
  int64_t count = 0;
  for (char c : value) {
    if (!IsDigit(c)) {
      return InvalidArgumentError(shown + ": not a count (want digits)");
    }
    count = count * 10 + (c - '0');
    if (count > (int64_t{1} << 62)) {
      return InvalidArgumentError(shown + ": too large");
    }
  }
  return count;
}

std::optional<uint64_t> ParseSymbolAddress(std::string_view token) {
  // strtoull would also accept leading spaces, a sign and trailing junk;
  // Go's ParseUint does not, so check the shape first.
  if (token.empty() || !IsDigit(token.front())) return std::nullopt;
  const std::string text(token);
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 0);
  if (errno == ERANGE || end != text.c_str() + text.size()) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(value);
}

std::string_view RawQuery(const httplib::Request& req) {
  std::string_view target = req.target;
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return {};
  return target.substr(question + 1);
}

}  // namespace inprof::internal
