// /debug/pools in its two forms, from the pools' statistics: JSON (one
// object per pool, numbers and the reuse ratio), and an aligned text table
// for a terminal; and the pools' part of /metrics.
#ifndef INPROF_AGENT_POOL_POOL_REPORT_H_
#define INPROF_AGENT_POOL_POOL_REPORT_H_

#include <string>
#include <vector>

#include "agent/base/prometheus_text.h"
#include "inprof/pool.h"

namespace inprof::internal {

// {"pools": [{"name": ..., "created": N, ..., "reuse_ratio": R}, ...]}
std::string PoolsJson(const std::vector<PoolStats>& pools);

// One row per pool under a header, columns aligned.
std::string PoolsText(const std::vector<PoolStats>& pools);

// One family per counter, one sample per pool (label `pool`).
void WritePoolMetrics(const std::vector<PoolStats>& pools,
                      PrometheusText& text);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_POOL_POOL_REPORT_H_
