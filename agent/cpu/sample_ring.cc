#include "agent/cpu/sample_ring.h"

// SIGNAL CONTEXT. TryClaim() and Commit() run in the signal handler: atomics
// only, bounded retries, no allocation. See the banner in sample_ring.h.

#include <bit>

namespace inprof::internal {
namespace {

size_t RoundUpCapacity(size_t capacity) {
  return std::bit_ceil(capacity < 2 ? size_t{2} : capacity);
}

// A writer that loses the claim race this many times in a row gives up and
// counts a drop: a handler must never spin without bound.
constexpr int kMaxClaimAttempts = 64;

}  // namespace

// NOT SIGNAL CONTEXT BEGIN: the ring is allocated once, before the handler
// is installed.
SampleRing::SampleRing(size_t capacity)
    : mask_(RoundUpCapacity(capacity) - 1),
      slots_(new Slot[RoundUpCapacity(capacity)]) {
  for (size_t i = 0; i <= mask_; ++i) {
    slots_[i].sequence.store(i, std::memory_order_relaxed);
  }
}
// NOT SIGNAL CONTEXT END

SampleRing::Claim SampleRing::TryClaim() noexcept {
  uint64_t pos = write_pos_.load(std::memory_order_relaxed);
  for (int attempt = 0; attempt < kMaxClaimAttempts; ++attempt) {
    Slot& slot = slots_[pos & mask_];
    uint64_t sequence = slot.sequence.load(std::memory_order_acquire);
    int64_t lap = static_cast<int64_t>(sequence - pos);
    if (lap == 0) {
      if (write_pos_.compare_exchange_weak(pos, pos + 1,
                                           std::memory_order_relaxed)) {
        return Claim{&slot.sample, pos};
      }
    } else if (lap < 0) {
      break;  // full: the reader has not freed this slot yet
    } else {
      pos = write_pos_.load(std::memory_order_relaxed);
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return Claim{};
}

void SampleRing::Commit(const Claim& claim) noexcept {
  Slot& slot = slots_[claim.position & mask_];
  slot.sequence.store(claim.position + 1, std::memory_order_release);
}

}  // namespace inprof::internal
