// The WaitBoard's arithmetic, with synthetic times: every unlock is charged
// the waiting that fell into its critical section, and the charges add up to
// the waiters' total waiting.

#include "agent/contention/wait_board.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace inprof::internal {
namespace {

TEST(WaitBoardTest, NobodyWaitingChargesNothing) {
  int lock = 0;
  EXPECT_FALSE(WaitBoard::HasWaiters(&lock));
  EXPECT_EQ(WaitBoard::Charge(&lock, 1000), 0u);
}

TEST(WaitBoardTest, OneWaiterIsChargedToEachUnlockInTurn) {
  int lock = 0;
  WaitSlot* slot = WaitBoard::Register(&lock, 100);
  ASSERT_NE(slot, nullptr);
  EXPECT_TRUE(WaitBoard::HasWaiters(&lock));
  EXPECT_EQ(WaitBoard::Charge(&lock, 150), 50u);   // first holder: 100..150
  EXPECT_EQ(WaitBoard::Charge(&lock, 400), 250u);  // second: 150..400
  WaitBoard::Unregister(slot, 100);
  EXPECT_FALSE(WaitBoard::HasWaiters(&lock));
  EXPECT_EQ(WaitBoard::Charge(&lock, 500), 0u);
}

TEST(WaitBoardTest, FiveWaitersOfOneSecondChargeFiveSeconds) {
  // pprof-spec.md §2.11: 1 s held with 5 waiters → 5 s.
  int lock = 0;
  constexpr uint64_t kSecond = 1'000'000'000;
  WaitSlot* slots[5];
  for (WaitSlot*& slot : slots) slot = WaitBoard::Register(&lock, 0);
  EXPECT_EQ(WaitBoard::Charge(&lock, kSecond), 5 * kSecond);
  for (WaitSlot* slot : slots) WaitBoard::Unregister(slot, 0);
}

TEST(WaitBoardTest, LateWaiterIsChargedFromItsOwnStart) {
  int lock = 0;
  WaitSlot* a = WaitBoard::Register(&lock, 0);
  EXPECT_EQ(WaitBoard::Charge(&lock, 10), 10u);
  WaitSlot* b = WaitBoard::Register(&lock, 15);
  // a: 10..20, b: 15..20.
  EXPECT_EQ(WaitBoard::Charge(&lock, 20), 15u);
  WaitBoard::Unregister(a, 0);  // a leaves, charged up to 20 already
  EXPECT_EQ(WaitBoard::Charge(&lock, 30), 10u);  // b alone: 20..30
  WaitBoard::Unregister(b, 15);
  EXPECT_FALSE(WaitBoard::HasWaiters(&lock));
}

TEST(WaitBoardTest, WaiterLeavingBeforeAnyChargeLeavesNothing) {
  int lock = 0;
  WaitSlot* a = WaitBoard::Register(&lock, 5);
  WaitSlot* b = WaitBoard::Register(&lock, 7);
  WaitBoard::Unregister(a, 5);
  EXPECT_EQ(WaitBoard::Charge(&lock, 17), 10u);  // b only: 7..17
  WaitBoard::Unregister(b, 7);
}

TEST(WaitBoardTest, AnotherLocksSlotIsRefusedNotShared) {
  alignas(64) static char locks[1 << 20];
  WaitSlot* first = WaitBoard::Register(&locks[0], 0);
  ASSERT_NE(first, nullptr);
  // Find an address whose slot is the first one's.
  const char* clash = nullptr;
  for (size_t i = 8; i < sizeof(locks) && clash == nullptr; i += 8) {
    WaitSlot* slot = WaitBoard::Register(&locks[i], 0);
    if (slot == nullptr) {
      clash = &locks[i];
    } else {
      WaitBoard::Unregister(slot, 0);
    }
  }
  ASSERT_NE(clash, nullptr);
  EXPECT_FALSE(WaitBoard::HasWaiters(clash));
  EXPECT_EQ(WaitBoard::Charge(clash, 100), 0u);
  EXPECT_EQ(WaitBoard::Charge(&locks[0], 100), 100u);
  WaitBoard::Unregister(first, 0);
  // Free again: the other lock may use the slot now.
  WaitSlot* later = WaitBoard::Register(clash, 0);
  ASSERT_NE(later, nullptr);
  WaitBoard::Unregister(later, 0);
}

TEST(WaitBoardTest, ForkedChildForgetsTheParentsWaiters) {
  int lock = 0;
  WaitSlot* slot = WaitBoard::Register(&lock, 0);
  ASSERT_NE(slot, nullptr);
  WaitBoard::ForgetAllAfterFork();  // what the child's atfork handler does
  EXPECT_FALSE(WaitBoard::HasWaiters(&lock));
  EXPECT_EQ(WaitBoard::Charge(&lock, 100), 0u);
  WaitSlot* again = WaitBoard::Register(&lock, 0);
  ASSERT_NE(again, nullptr);
  WaitBoard::Unregister(again, 0);
}

}  // namespace
}  // namespace inprof::internal
