// -----------------------------------------------------------------------------
// File: inprof/status.h
// -----------------------------------------------------------------------------
//
// Status and StatusOr<T> carry errors as values across the inprof API: no
// exception ever leaves inprof. Their shape follows abseil's so that readers
// recognise them; messages are one line naming the bad value.
//
// Example:
//
//   inprof::StatusOr<inprof::Agent> agent = inprof::Agent::Start(options);
//   if (!agent.ok()) {
//     std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
//   }
//
#ifndef INPROF_STATUS_H_
#define INPROF_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "inprof/export.h"

namespace inprof {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kFailedPrecondition,
  kUnavailable,
  kInternal,
  kUnimplemented,  // not available in this process (e.g. needs tcmalloc)
  kAlreadyExists,  // e.g. a pool name taken by another pool
};

// Returns "OK", "INVALID_ARGUMENT", ... for `code`.
INPROF_EXPORT std::string_view StatusCodeName(StatusCode code);

// Status
//
// The outcome of an operation: OK, or a code with a one-line message.
//
// Thread safety: thread-compatible (a value type).
class [[nodiscard]] INPROF_EXPORT Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "INVALID_ARGUMENT: <message>".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}
inline Status NotFoundError(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status FailedPreconditionError(std::string message) {
  return Status(StatusCode::kFailedPrecondition, std::move(message));
}
inline Status UnavailableError(std::string message) {
  return Status(StatusCode::kUnavailable, std::move(message));
}
inline Status UnimplementedError(std::string message) {
  return Status(StatusCode::kUnimplemented, std::move(message));
}
inline Status InternalError(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}
inline Status AlreadyExistsError(std::string message) {
  return Status(StatusCode::kAlreadyExists, std::move(message));
}

// StatusOr<T>
//
// Either a T or a non-OK Status. Accessing the value of a non-OK StatusOr is
// a programming error (asserted in debug builds).
//
// Thread safety: thread-compatible.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // Implicit, so that functions can `return value;` or `return status;`.
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "StatusOr needs a value or a non-OK status");
    if (status_.ok()) status_ = InternalError("StatusOr built from OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace inprof

#endif  // INPROF_STATUS_H_
