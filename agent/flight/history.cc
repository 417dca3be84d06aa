#include "agent/flight/history.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

namespace inprof::internal {
namespace {

// The scalar part of a RawSample, stored as it is: copying it whole keeps
// any field added before `pcs` (offsetof needs a standard-layout type; the
// record is byte-copied, which needs a trivially copyable one).
static_assert(std::is_standard_layout_v<RawSample>);
static_assert(std::is_trivially_copyable_v<RawSample>);
constexpr size_t kHeaderBytes = offsetof(RawSample, pcs);
static_assert(kHeaderBytes + sizeof(RawSample::pcs) == sizeof(RawSample),
              "a RawSample field after pcs would not be kept: add it before");
using LengthPrefix = uint32_t;  // bytes of the record after the prefix
constexpr size_t kMaxVarintBytes = 10;
constexpr size_t kMaxRecordBytes =
    sizeof(LengthPrefix) + kHeaderBytes + kMaxStackDepth * kMaxVarintBytes;

uint32_t Depth(const RawSample& sample) {
  return std::min<uint32_t>(sample.depth, kMaxStackDepth);
}

// Encodes `sample` as a record (length prefix, header, pcs) into `out`,
// which holds kMaxRecordBytes; returns the record's size. A pc is stored as
// the zigzag varint of its difference from the one before (the first from
// 0): neighbouring frames of one binary differ in the low bits only.
size_t EncodeRecord(const RawSample& sample, uint8_t* out) {
  uint8_t* p = out + sizeof(LengthPrefix);
  std::memcpy(p, &sample, kHeaderBytes);
  p += kHeaderBytes;
  uint64_t previous = 0;
  for (uint32_t i = 0; i < Depth(sample); ++i) {
    const int64_t delta = static_cast<int64_t>(sample.pcs[i] - previous);
    previous = sample.pcs[i];
    uint64_t zigzag = (static_cast<uint64_t>(delta) << 1) ^
                      static_cast<uint64_t>(delta >> 63);
    while (zigzag >= 0x80) {
      *p++ = static_cast<uint8_t>(zigzag) | 0x80;
      zigzag >>= 7;
    }
    *p++ = static_cast<uint8_t>(zigzag);
  }
  const size_t size = static_cast<size_t>(p - out);
  const LengthPrefix length =
      static_cast<LengthPrefix>(size - sizeof(LengthPrefix));
  std::memcpy(out, &length, sizeof(length));
  return size;
}

// Decodes the `n` bytes of pcs that follow a header into sample->pcs.
void DecodePcs(const uint8_t* p, size_t n, RawSample* sample) {
  const uint8_t* end = p + n;
  uint64_t previous = 0;
  uint32_t depth = 0;
  while (p < end && depth < Depth(*sample)) {
    uint64_t zigzag = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
      const uint8_t byte = *p++;
      zigzag |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    const uint64_t delta = (zigzag >> 1) ^ (~(zigzag & 1) + 1);
    previous += delta;
    sample->pcs[depth++] = previous;
  }
  sample->depth = depth;
}

}  // namespace

HistoryRing::HistoryRing(size_t capacity_bytes)
    : capacity_(capacity_bytes),
      // Not zeroed: pages are committed as the history fills them, so a
      // process with few requests pays for what it holds.
      bytes_(std::make_unique_for_overwrite<uint8_t[]>(capacity_bytes)) {}

size_t HistoryRing::RecordBytes(const RawSample& sample) {
  uint8_t record[kMaxRecordBytes];
  return EncodeRecord(sample, record);
}

void HistoryRing::Add(const RawSample& sample) {
  if (sample.request_id == 0 || sample.depth == 0) return;
  uint8_t record[kMaxRecordBytes];
  const size_t size = EncodeRecord(sample, record);
  if (size > capacity_) return;
  std::lock_guard<std::mutex> lock(mu_);
  while (head_ - tail_ + size > capacity_) EvictOldest();
  CopyIn(head_, record, size);
  head_ += size;
  ++held_;
  ++kept_;
  newest_ns_ = std::max(newest_ns_, sample.timestamp_ns);
}

void HistoryRing::EvictOldest() {
  evicted_newest_ns_ = std::max(evicted_newest_ns_, TimestampAt(tail_));
  evicted_any_ = true;
  tail_ += sizeof(LengthPrefix) + LengthAt(tail_);
  --held_;
}

uint32_t HistoryRing::LengthAt(uint64_t pos) const {
  LengthPrefix length;
  CopyOut(pos, reinterpret_cast<uint8_t*>(&length), sizeof(length));
  return length;
}

uint64_t HistoryRing::TimestampAt(uint64_t pos) const {
  uint64_t timestamp_ns;
  CopyOut(pos + sizeof(LengthPrefix) + offsetof(RawSample, timestamp_ns),
          reinterpret_cast<uint8_t*>(&timestamp_ns), sizeof(timestamp_ns));
  return timestamp_ns;
}

void HistoryRing::CopyIn(uint64_t pos, const uint8_t* src, size_t n) {
  const size_t at = static_cast<size_t>(pos % capacity_);
  const size_t first = std::min(n, capacity_ - at);
  std::memcpy(bytes_.get() + at, src, first);
  std::memcpy(bytes_.get(), src + first, n - first);
}

void HistoryRing::CopyOut(uint64_t pos, uint8_t* dst, size_t n) const {
  const size_t at = static_cast<size_t>(pos % capacity_);
  const size_t first = std::min(n, capacity_ - at);
  std::memcpy(dst, bytes_.get() + at, first);
  std::memcpy(dst + first, bytes_.get(), n - first);
}

HistoryRing::Window HistoryRing::ForRequest(uint64_t request_id,
                                            uint64_t since_ns) const {
  Window window;
  uint8_t pcs[kMaxStackDepth * kMaxVarintBytes];
  RawSample sample{};
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t pos = tail_; pos < head_;) {
    const uint32_t length = LengthAt(pos);
    const uint64_t header_pos = pos + sizeof(LengthPrefix);
    pos = header_pos + length;
    // Only the header is read until the record is known to be wanted.
    CopyOut(header_pos, reinterpret_cast<uint8_t*>(&sample), kHeaderBytes);
    if (sample.request_id != request_id || sample.timestamp_ns < since_ns) {
      continue;
    }
    const size_t pc_bytes = std::min(length - kHeaderBytes, sizeof(pcs));
    CopyOut(header_pos + kHeaderBytes, pcs, pc_bytes);
    DecodePcs(pcs, pc_bytes, &sample);
    window.samples.push_back(sample);
  }
  if (evicted_any_ && evicted_newest_ns_ >= since_ns) {
    const uint64_t oldest_ns = held_ > 0 ? TimestampAt(tail_) : 0;
    window.history_starts_ns = std::max(oldest_ns, evicted_newest_ns_);
  }
  return window;
}

HistoryRing::Usage HistoryRing::usage() const {
  Usage usage;
  std::lock_guard<std::mutex> lock(mu_);
  usage.samples = held_;
  usage.bytes = static_cast<size_t>(head_ - tail_);
  if (held_ > 0) {
    usage.oldest_ns = TimestampAt(tail_);
    usage.newest_ns = newest_ns_;
  }
  return usage;
}

uint64_t HistoryRing::kept() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_;
}

}  // namespace inprof::internal
