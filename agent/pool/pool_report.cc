#include "agent/pool/pool_report.h"

#include <algorithm>
#include <cstdio>

#include "agent/base/json_string.h"

namespace inprof::internal {
namespace {

std::string Ratio(double ratio) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", ratio);
  return text;
}

// The columns of both forms, in order.
struct Column {
  const char* name;
  uint64_t PoolStats::*field;
};
constexpr Column kColumns[] = {
    {"created", &PoolStats::created},   {"acquired", &PoolStats::acquired},
    {"released", &PoolStats::released}, {"in_use", &PoolStats::in_use},
    {"idle", &PoolStats::idle},         {"high_water", &PoolStats::high_water},
    {"dropped", &PoolStats::dropped},   {"misuses", &PoolStats::misuses},
};

}  // namespace

std::string PoolsJson(const std::vector<PoolStats>& pools) {
  std::string out = "{\"pools\": [";
  for (size_t i = 0; i < pools.size(); ++i) {
    const PoolStats& pool = pools[i];
    out += i == 0 ? "\n  {" : ",\n  {";
    out += "\"name\": " + JsonString(pool.name);
    for (const Column& column : kColumns) {
      out += ", \"" + std::string(column.name) +
             "\": " + std::to_string(pool.*column.field);
    }
    out += ", \"reuse_ratio\": " + Ratio(pool.reuse_ratio()) + "}";
  }
  out += pools.empty() ? "]}\n" : "\n]}\n";
  return out;
}

std::string PoolsText(const std::vector<PoolStats>& pools) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"pool"};
  for (const Column& column : kColumns) header.push_back(column.name);
  header.push_back("reuse_ratio");
  rows.push_back(header);
  for (const PoolStats& pool : pools) {
    std::vector<std::string> row = {pool.name};
    for (const Column& column : kColumns) {
      row.push_back(std::to_string(pool.*column.field));
    }
    row.push_back(Ratio(pool.reuse_ratio()));
    rows.push_back(std::move(row));
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      // The name left-aligned, numbers right-aligned.
      const std::string pad(widths[c] - row[c].size(), ' ');
      out += c == 0 ? row[c] + pad : "  " + pad + row[c];
    }
    // No trailing spaces.
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  }
  if (pools.empty()) out += "(no pools registered)\n";
  return out;
}

void WritePoolMetrics(const std::vector<PoolStats>& pools,
                      PrometheusText& text) {
  const auto family = [&](const char* name, const char* type, const char* help,
                          auto value) {
    text.Family(name, type, help);
    for (const PoolStats& pool : pools) {
      text.Sample(name, {{"pool", pool.name}},
                  static_cast<double>(value(pool)));
    }
  };
  family("inprof_pool_created_total", "counter",
         "Objects the pool's factory made.",
         [](const PoolStats& p) { return p.created; });
  family("inprof_pool_acquired_total", "counter",
         "Objects the pool handed out.",
         [](const PoolStats& p) { return p.acquired; });
  family("inprof_pool_released_total", "counter",
         "Objects given back to the pool.",
         [](const PoolStats& p) { return p.released; });
  family("inprof_pool_dropped_total", "counter",
         "Returned objects destroyed because the idle bound was reached.",
         [](const PoolStats& p) { return p.dropped; });
  family("inprof_pool_misuses_total", "counter",
         "Returns refused: twice, or to a pool that did not make the object.",
         [](const PoolStats& p) { return p.misuses; });
  family("inprof_pool_in_use_objects", "gauge",
         "Objects handed out and not yet returned.",
         [](const PoolStats& p) { return p.in_use; });
  family("inprof_pool_idle_objects", "gauge", "Objects kept for reuse.",
         [](const PoolStats& p) { return p.idle; });
  family("inprof_pool_high_water_objects", "gauge",
         "Most objects in use at once (approximate).",
         [](const PoolStats& p) { return p.high_water; });
  family("inprof_pool_reuse_ratio", "gauge", "Hand-outs per creation.",
         [](const PoolStats& p) { return p.reuse_ratio(); });
}

}  // namespace inprof::internal
