// Result<T>: a value or an errno with a context string. The interface we emulate speaks errno,
// so errors keep the errno itself rather than a coarse enum.
#pragma once

#include <cassert>
#include <cerrno>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace dmaheap {

// An errno value plus a human-readable sentence saying what failed and why.
class Error {
 public:
  Error(int err, std::string message) : errno_(err), message_(std::move(message)) {}
  int code() const { return errno_; }
  const std::string& message() const { return message_; }

 private:
  int errno_;
  std::string message_;
};

// Holds either a T or an Error. Accessing the wrong alternative is an invariant violation.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  // The errno, or 0 on success.
  int code() const { return ok() ? 0 : error().code(); }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation with no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(failed_);
    return err_;
  }
  int code() const { return failed_ ? err_.code() : 0; }

 private:
  Error err_{0, {}};
  bool failed_ = false;
};

using Status = Result<void>;

inline Error makeError(int err, std::string message) { return Error(err, std::move(message)); }

}  // namespace dmaheap
