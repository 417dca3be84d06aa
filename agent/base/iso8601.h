// UTC timestamps in ISO 8601 for the agent's JSON answers.
#ifndef INPROF_AGENT_BASE_ISO8601_H_
#define INPROF_AGENT_BASE_ISO8601_H_

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace inprof::internal {

// "2026-12-04T23:45:01Z", or with `millis` "2026-12-04T23:45:01.123Z".
inline std::string Iso8601(int64_t unix_nanos, bool millis = false) {
  const std::time_t t = static_cast<std::time_t>(unix_nanos / 1000000000);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  if (millis) {
    std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ",
                  static_cast<int>(unix_nanos / 1000000 % 1000));
  } else {
    std::snprintf(buf + n, sizeof(buf) - n, "Z");
  }
  return buf;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_ISO8601_H_
