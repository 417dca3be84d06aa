#include "agent/capture/capture_store.h"

#include <chrono>

namespace inprof::internal {

uint64_t CaptureStore::Add(std::string profile, int seconds,
                           std::string bytes) {
  Info info;
  info.profile = std::move(profile);
  info.seconds = seconds;
  info.unix_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  return Add(std::move(info), std::move(bytes));
}

uint64_t CaptureStore::Add(Info info, std::string bytes) {
  Entry entry;
  entry.info = std::move(info);
  entry.info.bytes = bytes.size();
  entry.bytes = std::move(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  entry.info.id = next_id_++;
  total_bytes_ += entry.info.bytes;
  entries_.push_back(std::move(entry));
  while (entries_.size() > 1 &&
         (entries_.size() > max_captures_ || total_bytes_ > max_bytes_)) {
    total_bytes_ -= entries_.front().info.bytes;
    entries_.pop_front();
  }
  return entries_.back().info.id;
}

std::optional<std::string> CaptureStore::Bytes(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.info.id == id) return e.bytes;
  }
  return std::nullopt;
}

std::vector<CaptureStore::Info> CaptureStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Info> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.info);
  return out;
}

}  // namespace inprof::internal
