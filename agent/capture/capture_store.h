// CaptureStore keeps profiles taken on request (from the /debug/pprof/ui
// page's "Capture" button) and slow requests' captures (auto-capture) in
// memory, so that they can be shown and compared later, bounded in count and
// bytes, each kind by its own limits: the oldest of a kind are dropped
// first, and a storm of slow requests never pushes out the UI's captures.
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
    // Captured live, still running (a hang): completed in place by Replace
    // when the request ends.
    bool running = false;
    // The window of the whole-process CPU profile taken after the request
    // ended (AttachProcessProfile), 0 while there is none.
    int process_profile_ms = 0;
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
      : ui_budget_{max_captures, max_bytes} {}
  CaptureStore(const CaptureStore&) = delete;
  CaptureStore& operator=(const CaptureStore&) = delete;

  // Stores `bytes` and returns its id. Drops the oldest captures until the
  // bounds hold; a capture larger than max_bytes alone is still kept (the
  // newest always is).
  uint64_t Add(std::string profile, int seconds, std::string bytes);
  // The same with every field of `info` but id and bytes given.
  uint64_t Add(Info info, std::string bytes);

  // Gives capture `id` new contents, keeping its id and its place (and
  // dropping any process profile attached); false if it is no longer
  // stored.
  bool Replace(uint64_t id, Info info, std::string bytes);

  // Attaches to slow request capture `id` a second profile, of the whole
  // process over the `window_ms` after the request ended (auto-capture's
  // process_profile_ms); its bytes count in the same budget. False if the
  // capture is no longer stored or is not a request's.
  bool AttachProcessProfile(uint64_t id, int window_ms, std::string bytes);

  // The limits of slow requests' captures (16 and 32 MiB by default); the
  // oldest are dropped at once if over.
  void SetRequestLimits(size_t max_captures, size_t max_bytes);

  // The bytes of capture `id`, or nullopt if there is none (never stored,
  // or dropped).
  std::optional<std::string> Bytes(uint64_t id) const;

  // The process profile attached to capture `id`, or nullopt if there is
  // none (no such capture, or nothing attached).
  std::optional<std::string> ProcessBytes(uint64_t id) const;

  // Every stored capture, oldest first.
  std::vector<Info> List() const;

 private:
  struct Entry {
    Info info;
    std::string bytes;
    std::string process_bytes;  // AttachProcessProfile's; may be empty
    // What the entry counts against its budget.
    size_t footprint() const { return info.bytes + process_bytes.size(); }
  };
  struct Budget {
    size_t max_captures;
    size_t max_bytes;
    size_t captures = 0;
    size_t bytes = 0;
  };
  Budget& BudgetOf(const Info& info) {
    return info.request ? request_budget_ : ui_budget_;
  }
  // Drops the oldest entries of `info`'s kind until its budget holds, but
  // never entry `keep`.
  void EvictLocked(const Info& info, uint64_t keep);

  mutable std::mutex mu_;
  std::deque<Entry> entries_;                    // guarded by mu_, oldest first
  Budget ui_budget_;                             // guarded by mu_
  Budget request_budget_{16, size_t{32} << 20};  // guarded by mu_
  uint64_t next_id_ = 1;                         // guarded by mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CAPTURE_CAPTURE_STORE_H_
