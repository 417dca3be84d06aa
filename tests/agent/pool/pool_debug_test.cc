// In a debug build of the user's code (no NDEBUG), misuse stops the process
// with a message naming the pool.
#undef NDEBUG

#include <gtest/gtest.h>

#include "inprof/pool.h"

namespace inprof {
namespace {

// Its own type: this file instantiates Pool with kAbortOnMisuse set.
struct DebugObject {
  int value = 0;
};

TEST(PoolDebugDeathTest, ReturningTwiceStopsWithAClearMessage) {
  Pool<DebugObject> pool("debug-twice");
  DebugObject* raw = pool.Get().release();
  pool.Put(raw);
  EXPECT_DEATH(pool.Put(raw),
               "inprof::Pool \"debug-twice\": object 0x[0-9a-f]+ was returned "
               "twice");
}

TEST(PoolDebugDeathTest, ReturningToTheWrongPoolStops) {
  Pool<DebugObject> pool("debug-right");
  Pool<DebugObject> wrong("debug-wrong");
  DebugObject* raw = pool.Get().release();
  EXPECT_DEATH(wrong.Put(raw),
               "inprof::Pool \"debug-wrong\": object 0x[0-9a-f]+ was returned "
               "to a pool that did not make it");
  pool.Put(raw);
}

}  // namespace
}  // namespace inprof
