// RebuildBudget spaces the address-map rebuilds that walkers ask for: a
// burst of `burst`, then one per `period` on average (a generic cell rate
// algorithm). A process whose new threads or coroutines keep mapping new
// stacks would otherwise reread /proc/self/maps as often as the rate limit
// allows, each read longer with every mapping.
//
// Ownership: a value. Thread safety: none; StackWalker's mutex guards it.
#ifndef INPROF_AGENT_UNWIND_REBUILD_BUDGET_H_
#define INPROF_AGENT_UNWIND_REBUILD_BUDGET_H_

#include <algorithm>
#include <chrono>

namespace inprof::internal {

class RebuildBudget {
 public:
  using Clock = std::chrono::steady_clock;

  // `period` > 0; a `burst` below 1 counts as 1.
  RebuildBudget(Clock::duration period, int burst)
      : period_(period), burst_(std::max(burst, 1)) {}

  // How long from `now` until a rebuild is within budget (zero: now).
  Clock::duration WaitAt(Clock::time_point now) const {
    // `theoretical_` runs ahead of the clock by one period per rebuild
    // spent; a rebuild is due once it is at most burst - 1 periods ahead.
    const Clock::time_point due = theoretical_ - period_ * (burst_ - 1);
    return due > now ? due - now : Clock::duration::zero();
  }

  // Records a rebuild made at `now`.
  void Spend(Clock::time_point now) {
    theoretical_ = std::max(theoretical_, now) + period_;
  }

 private:
  Clock::duration period_;
  int burst_;
  Clock::time_point theoretical_{};
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_UNWIND_REBUILD_BUDGET_H_
