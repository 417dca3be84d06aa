// Control-flow helpers for code that returns inprof::Status.
#ifndef INPROF_AGENT_BASE_STATUS_MACROS_H_
#define INPROF_AGENT_BASE_STATUS_MACROS_H_

#include "inprof/status.h"

// Returns from the enclosing function if `expr` yields a non-OK Status.
#define INPROF_RETURN_IF_ERROR(expr)                       \
  do {                                                     \
    if (::inprof::Status s_ = (expr); !s_.ok()) return s_; \
  } while (false)

#endif  // INPROF_AGENT_BASE_STATUS_MACROS_H_
