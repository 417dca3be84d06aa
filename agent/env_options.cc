// Options::FromEnvironment(): INPROF_* variables overlaid on the defaults.
// A malformed value is never ignored silently: the first problem is kept in
// Options::env_error and Agent::Start() reports it.

#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include "inprof/agent.h"

namespace inprof {
namespace {

template <typename Int>
bool ParseInt(std::string_view text, Int* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

void Fail(Options* options, std::string message) {
  if (options->env_error.empty()) options->env_error = std::move(message);
}

// INPROF_ADDR: "host:port", ":port", "port" or "[ipv6]:port".
void ApplyAddress(std::string_view value, Options* options) {
  std::string_view host, port;
  if (value.starts_with("[")) {
    size_t close = value.find(']');
    if (close == std::string_view::npos || close + 1 >= value.size() ||
        value[close + 1] != ':') {
      return Fail(options, "INPROF_ADDR=" + std::string(value) +
                               ": expected [ipv6]:port");
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
  } else if (size_t colon = value.rfind(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  } else {
    port = value;
  }
  int parsed = 0;
  if (!ParseInt(port, &parsed) || parsed < 0 || parsed > 65535) {
    return Fail(options, "INPROF_ADDR=" + std::string(value) +
                             ": port must be an integer in 0..65535");
  }
  if (!host.empty()) options->host = std::string(host);
  options->port = parsed;
}

template <typename Int>
void ApplyInt(const char* name, Int low, Int high, Int* field,
              Options* options) {
  const char* value = std::getenv(name);
  if (value == nullptr) return;
  Int parsed = 0;
  if (!ParseInt(value, &parsed) || parsed < low || parsed > high) {
    return Fail(options, std::string(name) + "=" + value +
                             ": must be an integer in " + std::to_string(low) +
                             ".." + std::to_string(high));
  }
  *field = parsed;
}

void ApplySignal(Options* options) {
  const char* value = std::getenv("INPROF_SIGNAL");
  if (value == nullptr) return;
  std::string_view text(value);
  if (text == "SIGPROF" || text == "PROF") {
    options->cpu_signal = SIGPROF;
    return;
  }
  int parsed = 0;
  if (!ParseInt(text, &parsed) || parsed < 1 || parsed >= NSIG) {
    return Fail(options, "INPROF_SIGNAL=" + std::string(text) +
                             ": expected SIGPROF or a signal number below " +
                             std::to_string(NSIG));
  }
  options->cpu_signal = parsed;
}

// INPROF_ALLOWED_HOSTS: names separated by commas; blanks around them are
// ignored.
void ApplyAllowedHosts(Options* options) {
  const char* value = std::getenv("INPROF_ALLOWED_HOSTS");
  if (value == nullptr) return;
  std::string_view rest(value);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) {
      name.remove_prefix(1);
    }
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
      name.remove_suffix(1);
    }
    if (name.empty()) continue;
    if (name.find_first_of(" \t/@") != std::string_view::npos) {
      return Fail(options, "INPROF_ALLOWED_HOSTS=" + std::string(value) +
                               ": expected host names separated by commas");
    }
    options->allowed_hosts.emplace_back(name);
  }
}

// INPROF_AUTOCAPTURE_ENDPOINTS: "ENDPOINT=MS" entries separated by ';'
// (endpoints hold blanks and slashes, never ';'); MS checked by Start().
void ApplyEndpointThresholds(Options* options) {
  const char* value = std::getenv("INPROF_AUTOCAPTURE_ENDPOINTS");
  if (value == nullptr) return;
  std::string_view rest(value);
  while (!rest.empty()) {
    const size_t end = std::min(rest.find(';'), rest.size());
    const std::string_view entry = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (entry.empty()) continue;
    const size_t equals = entry.rfind('=');
    int64_t ms = 0;
    const char* digits = entry.data() + equals + 1;
    auto [stop, ec] = std::from_chars(digits, entry.data() + entry.size(), ms);
    if (equals == std::string_view::npos || equals == 0 || ec != std::errc() ||
        stop != entry.data() + entry.size()) {
      return Fail(options,
                  "INPROF_AUTOCAPTURE_ENDPOINTS=" + std::string(value) +
                      ": \"" + std::string(entry) +
                      "\" is not ENDPOINT=MILLISECONDS");
    }
    options->autocapture_endpoint_threshold_ms[std::string(
        entry.substr(0, equals))] = ms;
  }
}

// INPROF_AUTOCAPTURE_PER_SECOND: a decimal number (Start() checks the
// range with the other auto-capture limits).
void ApplyPerSecond(Options* options) {
  const char* value = std::getenv("INPROF_AUTOCAPTURE_PER_SECOND");
  if (value == nullptr) return;
  const std::string_view text(value);
  double number = 0;
  auto [stop, ec] =
      std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || ec != std::errc() || stop != text.data() + text.size()) {
    Fail(options, "INPROF_AUTOCAPTURE_PER_SECOND=" + std::string(text) +
                      ": not a number");
    return;
  }
  options->autocapture_captures_per_second = number;
}

}  // namespace

Options Options::FromEnvironment() {
  Options options;
  if (const char* addr = std::getenv("INPROF_ADDR")) {
    ApplyAddress(addr, &options);
  }
  ApplyInt("INPROF_PORT", 0, 65535, &options.port, &options);
  ApplyInt("INPROF_HZ", 1, 1000, &options.hz, &options);
  ApplyInt("INPROF_MAX_SECONDS", 1, 86400, &options.max_profile_seconds,
           &options);
  ApplyInt("INPROF_MAX_STACK_DEPTH", 1, 128, &options.max_stack_depth,
           &options);
  ApplyInt<int64_t>("INPROF_HEAP_RATE", 0, int64_t{1} << 30,
                    &options.heap_sample_rate, &options);
  ApplyInt<int64_t>("INPROF_BLOCK_RATE", 0, int64_t{1} << 40,
                    &options.block_profile_rate, &options);
  ApplyInt<int64_t>("INPROF_MUTEX_FRACTION", 0, int64_t{1} << 20,
                    &options.mutex_profile_fraction, &options);
  ApplySignal(&options);
  ApplyAllowedHosts(&options);
  // Checked (characters, length) by Start(), whose message does not echo it.
  if (const char* token = std::getenv("INPROF_TOKEN")) options.token = token;
  ApplyInt("INPROF_MAX_CONNECTIONS", 1, 4096, &options.max_connections,
           &options);
  ApplyInt<int64_t>("INPROF_AUTOCAPTURE_THRESHOLD_MS", 0, 3'600'000,
                    &options.autocapture_threshold_ms, &options);
  ApplyEndpointThresholds(&options);
  ApplyInt("INPROF_AUTOCAPTURE_MAX_CAPTURES", 1, 1000,
           &options.autocapture_max_captures, &options);
  ApplyInt<int64_t>("INPROF_AUTOCAPTURE_MAX_BYTES", int64_t{1} << 20,
                    int64_t{1} << 30, &options.autocapture_max_bytes, &options);
  ApplyPerSecond(&options);
  ApplyInt("INPROF_AUTOCAPTURE_HANG_MULTIPLE", 0, 1000,
           &options.autocapture_hang_multiple, &options);
  ApplyInt("INPROF_AUTOCAPTURE_PROCESS_PROFILE_MS", 0, 60'000,
           &options.autocapture_process_profile_ms, &options);
  return options;
}

}  // namespace inprof
