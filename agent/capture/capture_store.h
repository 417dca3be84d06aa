// CaptureStore keeps profiles taken on request (from the /debug/pprof/ui
// page's "Capture" button) in memory, so that they can be shown and compared
// later, bounded in count and bytes: the oldest are dropped first.
//
// Example:
//
//   CaptureStore store;
//   uint64_t id = store.Add("heap", 0, std::move(profile_bytes));
//   std::optional<std::string> bytes = store.Bytes(id);
//
// Ownership: owns copies of the profiles.
//
// Thread safety: thread-safe.
#ifndef INPROF_AGENT_CAPTURE_CAPTURE_STORE_H_
#define INPROF_AGENT_CAPTURE_CAPTURE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace inprof::internal {

class CaptureStore {
 public:
  // What a slow request's capture adds (agent/flight/flight_recorder.h).
  struct Request {
    std::string endpoint;  // "" when the request had none
    uint64_t request_id = 0;
    int64_t duration_nanos = 0;
    std::vector<std::pair<std::string, std::string>> labels;  // by key
  };
  struct Info {
    uint64_t id = 0;         // 1, 2, ...: never reused
    std::string profile;     // "cpu", "heap", ..., "request"
    int seconds = 0;         // the CPU profile's length; 0 for the others
    int64_t unix_nanos = 0;  // when taken; a request's: when it started
    size_t bytes = 0;
    std::optional<Request> request;  // set for a slow request's capture
  };

  explicit CaptureStore(size_t max_captures = 16,
                        size_t max_bytes = size_t{64} << 20)
      : max_captures_(max_captures), max_bytes_(max_bytes) {}
  CaptureStore(const CaptureStore&) = delete;
  CaptureStore& operator=(const CaptureStore&) = delete;

  // Stores `bytes` and returns its id. Drops the oldest captures until the
  // bounds hold; a capture larger than max_bytes alone is still kept (the
  // newest always is).
  uint64_t Add(std::string profile, int seconds, std::string bytes);
  // The same with every field of `info` but id and bytes given.
  uint64_t Add(Info info, std::string bytes);

  // The bytes of capture `id`, or nullopt if there is none (never stored,
  // or dropped).
  std::optional<std::string> Bytes(uint64_t id) const;

  // Every stored capture, oldest first.
  std::vector<Info> List() const;

 private:
  struct Entry {
    Info info;
    std::string bytes;
  };
  const size_t max_captures_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // guarded by mu_, oldest first
  size_t total_bytes_ = 0;     // guarded by mu_
  uint64_t next_id_ = 1;       // guarded by mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CAPTURE_CAPTURE_STORE_H_
