#include "agent/flight/hung_requests.h"

#include <algorithm>
#include <string_view>

#include "agent/labels/active_requests.h"
#include "agent/labels/label_registry.h"

namespace inprof::internal {
std::vector<RequestEnd> HungRequestWatch::Scan(
    uint64_t now_ns, const AutoCaptureSettings& settings) {
  std::vector<RequestEnd> hung;
  std::vector<uint64_t> still_running;
  if (!settings.enabled || settings.hang_multiple == 0) {
    reported_.clear();
    return hung;
  }
  ActiveRequests& active = ActiveRequests::Global();
  for (size_t i = 0; i < ActiveRequests::kSlots; ++i) {
    const ActiveRequestSnapshot slot = active.Snapshot(i);
    if (slot.request_id == 0 || slot.started_ns == 0 ||
        slot.started_ns > now_ns) {
      continue;
    }
    const int64_t threshold =
        settings.ThresholdNanos(EndpointOf(slot.label_set));
    if (threshold <= 0 ||
        now_ns - slot.started_ns <
            static_cast<uint64_t>(threshold) * settings.hang_multiple) {
      continue;
    }
    still_running.push_back(slot.request_id);
    if (std::find(reported_.begin(), reported_.end(), slot.request_id) !=
        reported_.end()) {
      continue;
    }
    RequestEnd end;
    end.label_set = slot.label_set;
    end.request_id = slot.request_id;
    end.start_ns = slot.started_ns;
    end.end_ns = now_ns;
    hung.push_back(end);
  }
  reported_ = std::move(still_running);
  return hung;
}

}  // namespace inprof::internal
