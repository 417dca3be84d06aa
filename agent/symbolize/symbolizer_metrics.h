// The agent's symbolizer in /metrics: what it holds now (estimated heap
// bytes by part, and whether a libdwfl session with its mapped files is
// open) and what its limits and idle release dropped. Header-only so that
// inprof_symbolize does not need inprof_base's PrometheusText.
#ifndef INPROF_AGENT_SYMBOLIZE_SYMBOLIZER_METRICS_H_
#define INPROF_AGENT_SYMBOLIZE_SYMBOLIZER_METRICS_H_

#include "agent/base/prometheus_text.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {

inline void WriteSymbolizerMetrics(const SymbolizerStats& stats,
                                   PrometheusText& text) {
  text.Family("inprof_symbolizer_bytes", "gauge",
              "Estimated heap bytes the agent's symbolizer holds, by part "
              "(libdwfl's own memory not included).");
  text.Sample("inprof_symbolizer_bytes", {{"part", "address_cache"}},
              static_cast<double>(stats.address_cache_bytes));
  text.Sample("inprof_symbolizer_bytes", {{"part", "unit_indexes"}},
              static_cast<double>(stats.unit_index_bytes));
  text.Sample("inprof_symbolizer_bytes", {{"part", "symbol_tables"}},
              static_cast<double>(stats.symbol_table_bytes));
  struct Single {
    const char* name;
    const char* type;
    const char* help;
    double value;
  };
  const Single singles[] = {
      {"inprof_symbolizer_cached_addresses", "gauge",
       "Addresses in the symbolizer's cache.",
       static_cast<double>(stats.cached_addresses)},
      {"inprof_symbolizer_session_open", "gauge",
       "1 while the symbolizer holds a libdwfl session and its files.",
       stats.session_open ? 1.0 : 0.0},
      {"inprof_symbolizer_modules_without_dwarf", "gauge",
       "Modules named from symbols only: their compressed DWARF is too big.",
       static_cast<double>(stats.modules_without_dwarf)},
      {"inprof_symbolizer_evicted_addresses_total", "counter",
       "Cached addresses dropped to stay within the cache budget.",
       static_cast<double>(stats.addresses_evicted)},
      {"inprof_symbolizer_evicted_unit_indexes_total", "counter",
       "Compile unit indexes dropped to stay within their budget.",
       static_cast<double>(stats.unit_indexes_evicted)},
      {"inprof_symbolizer_releases_total", "counter",
       "Times the idle symbolizer gave back all its memory.",
       static_cast<double>(stats.releases)},
  };
  for (const Single& single : singles) {
    text.Single(single.name, single.type, single.help, single.value);
  }
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_SYMBOLIZER_METRICS_H_
