#include "agent/flight/autocapture_settings.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "agent/base/json_string.h"

namespace inprof::internal {
namespace {

std::optional<int64_t> ParseMs(const std::string& text) {
  int64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > AutoCaptureSettings::kMaxThresholdMs) {
    return std::nullopt;
  }
  return value;
}

template <typename Number>
std::optional<Number> ParseNumber(const std::string& text, Number low,
                                  Number high) {
  Number value{};
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low ||
      value > high) {
    return std::nullopt;
  }
  return value;
}

// Applies limit parameter `name`=`value` to `settings`; false if `name` is
// not a limit; an error if the value is out of range.
StatusOr<bool> ApplyLimit(const std::string& name, const std::string& value,
                          AutoCaptureSettings* settings) {
  using S = AutoCaptureSettings;
  std::optional<std::string> range;
  if (name == "max_captures") {
    auto n = ParseNumber<int>(value, 1, S::kMaxMaxCaptures);
    if (n) settings->max_captures = *n;
    if (!n)
      range = "a whole number in 1.." + std::to_string(S::kMaxMaxCaptures);
  } else if (name == "max_bytes") {
    auto n = ParseNumber<int64_t>(value, S::kMinMaxBytes, S::kMaxMaxBytes);
    if (n) settings->max_bytes = *n;
    if (!n) {
      range = "a whole number of bytes in " + std::to_string(S::kMinMaxBytes) +
              ".." + std::to_string(S::kMaxMaxBytes);
    }
  } else if (name == "captures_per_second") {
    auto n = ParseNumber<double>(value, S::kMinPerSecond, S::kMaxPerSecond);
    if (n) settings->captures_per_second = *n;
    if (!n) range = "a number in 0.01..100";
  } else if (name == "hang_multiple") {
    auto n = ParseNumber<int>(value, 0, S::kMaxHangMultiple);
    if (n && *n != 1) settings->hang_multiple = *n;
    if (!n || *n == 1) {
      range = "0 (never) or a whole number in 2.." +
              std::to_string(S::kMaxHangMultiple);
    }
  } else if (name == "process_profile_ms") {
    auto n = ParseNumber<int>(value, 0, S::kMaxProcessProfileMs);
    if (n) settings->process_profile_ms = *n;
    if (!n) {
      range = "a whole number of milliseconds in 0.." +
              std::to_string(S::kMaxProcessProfileMs);
    }
  } else {
    return false;
  }
  if (range)
    return InvalidArgumentError(name + "=" + value + ": not " + *range);
  return true;
}

std::string FormatDecimal(double value) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
  return ec == std::errc() ? std::string(text, end) : "0";
}

}  // namespace

double AutoCaptureSettings::Burst() const {
  return std::max(1.0, 2 * captures_per_second);
}

int64_t AutoCaptureSettings::ThresholdNanos(std::string_view endpoint) const {
  auto it = endpoint_threshold_ms.find(std::string(endpoint));
  const int64_t ms =
      it != endpoint_threshold_ms.end() ? it->second : threshold_ms;
  return ms * 1'000'000;
}

std::string AutoCaptureSettings::ToJson() const {
  std::string out = "{\"enabled\":" + std::string(enabled ? "true" : "false") +
                    ",\"threshold_ms\":" + std::to_string(threshold_ms) +
                    ",\"endpoints\":{";
  bool first = true;
  for (const auto& [endpoint, ms] : endpoint_threshold_ms) {
    if (!first) out += ',';
    first = false;
    out +=
        JsonString(endpoint) + ":{\"threshold_ms\":" + std::to_string(ms) + "}";
  }
  out += "},\"limits\":{\"max_captures\":" + std::to_string(max_captures) +
         ",\"max_bytes\":" + std::to_string(max_bytes) +
         ",\"captures_per_second\":" + FormatDecimal(captures_per_second) +
         ",\"hang_multiple\":" + std::to_string(hang_multiple) +
         ",\"process_profile_ms\":" + std::to_string(process_profile_ms) +
         ",\"max_threshold_ms\":" + std::to_string(kMaxThresholdMs) +
         ",\"max_endpoints\":" + std::to_string(kMaxEndpoints) + "}}\n";
  return out;
}

StatusOr<AutoCaptureSettings> AutoCaptureSettingsFrom(
    int64_t threshold_ms, const std::map<std::string, int64_t>& endpoints,
    const std::vector<std::pair<std::string, std::string>>& limits) {
  AutoCaptureSettings settings;
  std::vector<std::pair<std::string, std::string>> first = limits;
  first.emplace_back("threshold_ms", std::to_string(threshold_ms));
  StatusOr<AutoCaptureSettings> next = ApplyAutoCaptureParams(settings, first);
  for (const auto& [endpoint, ms] : endpoints) {
    if (!next.ok()) break;
    next = ApplyAutoCaptureParams(
        *next, {{"endpoint", endpoint}, {"threshold_ms", std::to_string(ms)}});
  }
  if (!next.ok()) {
    return InvalidArgumentError("auto-capture: " + next.status().message());
  }
  return next;
}

StatusOr<AutoCaptureSettings> ApplyAutoCaptureParams(
    const AutoCaptureSettings& current,
    const std::vector<std::pair<std::string, std::string>>& params) {
  std::optional<int64_t> threshold;
  std::optional<std::string> endpoint;
  std::optional<bool> enabled;
  AutoCaptureSettings next = current;
  std::vector<std::string> seen;
  for (const auto& [name, value] : params) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return InvalidArgumentError(name + " given twice");
    }
    seen.push_back(name);
    StatusOr<bool> limit = ApplyLimit(name, value, &next);
    if (!limit.ok()) return limit.status();
    if (*limit) continue;
    if (name == "threshold_ms") {
      threshold = ParseMs(value);
      if (!threshold) {
        return InvalidArgumentError(
            "threshold_ms=" + value +
            ": not a whole number of milliseconds in 0.." +
            std::to_string(AutoCaptureSettings::kMaxThresholdMs));
      }
    } else if (name == "endpoint") {
      if (value.empty()) return InvalidArgumentError("endpoint= is empty");
      endpoint = value;
    } else if (name == "enabled") {
      if (value != "0" && value != "1") {
        return InvalidArgumentError("enabled=" + value + ": not 0 or 1");
      }
      enabled = value == "1";
    } else {
      return InvalidArgumentError(
          name +
          ": unknown parameter (threshold_ms, endpoint, enabled, "
          "max_captures, max_bytes, captures_per_second, hang_multiple, "
          "process_profile_ms)");
    }
  }
  if (endpoint && !threshold) {
    return InvalidArgumentError("endpoint=" + *endpoint +
                                " needs threshold_ms=N");
  }
  if (threshold) {
    if (endpoint && *threshold == 0) {
      next.endpoint_threshold_ms.erase(*endpoint);
    } else if (endpoint) {
      next.endpoint_threshold_ms[*endpoint] = *threshold;
      if (next.endpoint_threshold_ms.size() >
          AutoCaptureSettings::kMaxEndpoints) {
        return InvalidArgumentError(
            "endpoint=" + *endpoint + ": already " +
            std::to_string(AutoCaptureSettings::kMaxEndpoints) +
            " endpoints with a threshold of their own");
      }
    } else {
      next.threshold_ms = *threshold;
    }
    // Setting a threshold turns auto-capture on (as the README's one-line
    // story expects); removing one does not turn it off.
    if (*threshold > 0) next.enabled = true;
  }
  if (enabled) next.enabled = *enabled;
  if (next.threshold_ms == 0 && next.endpoint_threshold_ms.empty()) {
    if (enabled == true) {
      return InvalidArgumentError(
          "enabled=1 with no threshold: give threshold_ms=N too");
    }
    next.enabled = false;  // the last threshold removed
  }
  return next;
}

}  // namespace inprof::internal
