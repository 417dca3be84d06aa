#include "agent/flight/autocapture_settings.h"

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

}  // namespace

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
  out +=
      "},\"limits\":{\"max_threshold_ms\":" + std::to_string(kMaxThresholdMs) +
      ",\"max_endpoints\":" + std::to_string(kMaxEndpoints) + "}}\n";
  return out;
}

StatusOr<AutoCaptureSettings> AutoCaptureSettingsFrom(
    int64_t threshold_ms, const std::map<std::string, int64_t>& endpoints) {
  AutoCaptureSettings settings;
  StatusOr<AutoCaptureSettings> next = ApplyAutoCaptureParams(
      settings, {{"threshold_ms", std::to_string(threshold_ms)}});
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
  for (const auto& [name, value] : params) {
    const bool repeated = (name == "threshold_ms" && threshold) ||
                          (name == "endpoint" && endpoint) ||
                          (name == "enabled" && enabled);
    if (repeated) return InvalidArgumentError(name + " given twice");
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
          name + ": unknown parameter (threshold_ms, endpoint, enabled)");
    }
  }
  if (endpoint && !threshold) {
    return InvalidArgumentError("endpoint=" + *endpoint +
                                " needs threshold_ms=N");
  }
  AutoCaptureSettings next = current;
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
