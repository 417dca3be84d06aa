// HistoryRing: the recent CPU and wall-clock samples of threads inside a
// request (their RawSample.request_id is set), so that a request found slow
// when it ends can still be given its own samples from its first moment (the
// flight recorder keeps history; a trigger would fire too late: LESSONS.md).
// Samples outside any request are not kept. A request ending under its
// threshold costs nothing here: its samples are overwritten in turn.
//
// Memory: a byte ring of `capacity_bytes`, allocated at construction (only
// while auto-capture is on). A sample is stored as a variable-length record:
// the scalar part of RawSample (every field before `pcs`, copied whole, so a
// field added there is kept without a change here) and only its `depth`
// program counters, each as the zigzag varint of its difference from the
// previous one (return addresses of one binary lie close together: 2-4 bytes
// instead of 8). A sample of 32 frames takes about 190 bytes instead of a
// RawSample's 1 KiB (BENCHMARKS.md, "Auto-capture: history and time to
// capture"). The oldest records are evicted to make room.
//
// Where it sits: the host's threads never reach this ring. What they write
// is lock-free and bounded: the signal handler's SampleRing (CPU and wall
// samples) and RequestWaits' slots (a request's lock waits). Agent threads
// move those records here: the sampler's collector thread (OnSample) and
// the capture thread (the waits), which also reads a request's window. So
// the mutex below is only ever contended between two agent threads, and a
// slow capture delays the collector, never a request.
//
// Ownership: owns its buffer; samples are copied in and out.
// Thread safety: thread-safe (one mutex; Add runs on the sampler's
// collector thread and the capture thread, ForRequest on the capture
// thread). Add encodes the record before taking the mutex; under it, it
// only evicts and copies.
#ifndef INPROF_AGENT_FLIGHT_HISTORY_H_
#define INPROF_AGENT_FLIGHT_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "agent/cpu/raw_sample.h"

namespace inprof::internal {

class HistoryRing {
 public:
  // `capacity_bytes` of records; a ring too small for one sample keeps none.
  explicit HistoryRing(size_t capacity_bytes);
  HistoryRing(const HistoryRing&) = delete;
  HistoryRing& operator=(const HistoryRing&) = delete;

  // Keeps `sample` if it belongs to a request, evicting the oldest records
  // to make room.
  void Add(const RawSample& sample);

  struct Window {
    std::vector<RawSample> samples;  // of the request, oldest first
    // Set when samples taken at or after the request's start were evicted:
    // the time from which the request's history is whole (the oldest sample
    // still held, or the newest evicted if later). 0: history reaches back
    // to the start.
    uint64_t history_starts_ns = 0;
  };
  // The samples of request `request_id` taken at or after `since_ns`.
  Window ForRequest(uint64_t request_id, uint64_t since_ns) const;

  // What the ring holds now (for benchmarks and metrics).
  struct Usage {
    size_t samples = 0;      // records held
    size_t bytes = 0;        // bytes they take
    uint64_t oldest_ns = 0;  // timestamp of the oldest held (0: none)
    uint64_t newest_ns = 0;  // timestamp of the newest held (0: none)
  };
  Usage usage() const;

  uint64_t kept() const;  // samples added since construction
  size_t capacity_bytes() const { return capacity_; }

  // Bytes `sample` takes in the ring (its record, length prefix included).
  static size_t RecordBytes(const RawSample& sample);

 private:
  // Copies `n` bytes into / out of the ring at logical position `pos`,
  // wrapping around the end of the buffer.
  void CopyIn(uint64_t pos, const uint8_t* src, size_t n);
  void CopyOut(uint64_t pos, uint8_t* dst, size_t n) const;
  // The record at `pos`: its length after the prefix, its timestamp.
  uint32_t LengthAt(uint64_t pos) const;
  uint64_t TimestampAt(uint64_t pos) const;
  // Evicts the oldest record. Requires mu_ held and a record held.
  void EvictOldest();

  // Immutable after construction.
  const size_t capacity_;
  const std::unique_ptr<uint8_t[]> bytes_;

  mutable std::mutex mu_;
  // Guarded by mu_. Logical byte positions (monotonic; the buffer index is
  // position % capacity_): records lie in [tail_, head_).
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
  size_t held_ = 0;
  uint64_t kept_ = 0;
  uint64_t newest_ns_ = 0;
  // The newest timestamp among evicted records: a request that started at
  // or before it may have lost samples.
  uint64_t evicted_newest_ns_ = 0;
  bool evicted_any_ = false;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_HISTORY_H_
