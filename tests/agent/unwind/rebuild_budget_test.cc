#include "agent/unwind/rebuild_budget.h"

#include <gtest/gtest.h>

#include <chrono>

namespace inprof::internal {
namespace {

using std::chrono::milliseconds;
using Clock = RebuildBudget::Clock;

constexpr Clock::duration kNoWait = Clock::duration::zero();

TEST(RebuildBudgetTest, ABurstAtOnceThenOnePerPeriod) {
  RebuildBudget budget(milliseconds(200), 3);
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(budget.WaitAt(start), kNoWait) << i;
    budget.Spend(start);
  }
  EXPECT_EQ(budget.WaitAt(start), milliseconds(200));
  EXPECT_EQ(budget.WaitAt(start + milliseconds(150)), milliseconds(50));
  EXPECT_EQ(budget.WaitAt(start + milliseconds(200)), kNoWait);
  // Kept busy, it allows one per period.
  Clock::time_point now = start + milliseconds(200);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(budget.WaitAt(now), kNoWait) << i;
    budget.Spend(now);
    EXPECT_EQ(budget.WaitAt(now), milliseconds(200)) << i;
    now += milliseconds(200);
  }
}

TEST(RebuildBudgetTest, AQuietSpellRefillsTheBurstAndNoMore) {
  RebuildBudget budget(milliseconds(200), 3);
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < 3; ++i) budget.Spend(start);
  // Long after: three at once again, not more.
  const Clock::time_point later = start + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(budget.WaitAt(later), kNoWait) << i;
    budget.Spend(later);
  }
  EXPECT_EQ(budget.WaitAt(later), milliseconds(200));
}

}  // namespace
}  // namespace inprof::internal
