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
  Budget& budget = BudgetOf(entry.info);
  budget.captures += 1;
  budget.bytes += entry.info.bytes;
  const uint64_t id = entry.info.id;
  entries_.push_back(std::move(entry));
  EvictLocked(entries_.back().info, id);
  return id;
}

bool CaptureStore::Replace(uint64_t id, Info info, std::string bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Entry& e : entries_) {
    if (e.info.id != id) continue;
    Budget& old_budget = BudgetOf(e.info);
    old_budget.captures -= 1;
    old_budget.bytes -= e.footprint();
    e.process_bytes.clear();
    e.info = std::move(info);
    e.info.id = id;
    e.info.bytes = bytes.size();
    e.bytes = std::move(bytes);
    Budget& budget = BudgetOf(e.info);
    budget.captures += 1;
    budget.bytes += e.info.bytes;
    const Info kind = e.info;  // e may move while evicting
    EvictLocked(kind, id);
    return true;
  }
  return false;
}

bool CaptureStore::AttachProcessProfile(uint64_t id, int window_ms,
                                        std::string bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Entry& e : entries_) {
    if (e.info.id != id) continue;
    if (!e.info.request) return false;
    Budget& budget = BudgetOf(e.info);
    budget.bytes -= e.process_bytes.size();
    e.process_bytes = std::move(bytes);
    budget.bytes += e.process_bytes.size();
    e.info.request->process_profile_ms = window_ms;
    const Info kind = e.info;  // e may move while evicting
    EvictLocked(kind, id);
    return true;
  }
  return false;
}

void CaptureStore::SetRequestLimits(size_t max_captures, size_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  request_budget_.max_captures = max_captures;
  request_budget_.max_bytes = max_bytes;
  Info request_kind;
  request_kind.request.emplace();
  EvictLocked(request_kind, 0);
}

void CaptureStore::EvictLocked(const Info& info, uint64_t keep) {
  Budget& budget = BudgetOf(info);
  const bool request = info.request.has_value();
  for (auto it = entries_.begin();
       it != entries_.end() && (budget.captures > budget.max_captures ||
                                budget.bytes > budget.max_bytes);) {
    if (it->info.request.has_value() != request || it->info.id == keep) {
      ++it;
      continue;
    }
    budget.captures -= 1;
    budget.bytes -= it->footprint();
    it = entries_.erase(it);
  }
}

std::optional<std::string> CaptureStore::Bytes(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.info.id == id) return e.bytes;
  }
  return std::nullopt;
}

std::optional<std::string> CaptureStore::ProcessBytes(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.info.id == id && !e.process_bytes.empty()) return e.process_bytes;
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
