// Wire primitives of the dmaheapd protocol: little-endian integers, length-prefixed strings and
// counted lists, written and read with strict bounds. A Reader never reads past its input and
// remembers the first failure; callers check ok() once at the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace dmaheap::proto {

// Bounds that hold for every message, in both directions.
inline constexpr size_t kMaxString = 1024;     // bytes in one string field
inline constexpr size_t kMaxListItems = 1 << 20;  // entries in one list field

class Writer {
 public:
  template <typename T>
    requires std::is_integral_v<T>
  void put(T v) {
    using U = std::make_unsigned_t<T>;
    U u = static_cast<U>(v);
    for (size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<uint8_t>(u >> (8 * i)));
  }
  // u16 length, then the bytes. The encoder's caller keeps strings within kMaxString.
  void putString(const std::string& s) {
    put(static_cast<uint16_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  std::vector<uint8_t>& bytes() { return out_; }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}

  template <typename T>
    requires std::is_integral_v<T>
  T get() {
    using U = std::make_unsigned_t<T>;
    if (!need(sizeof(T))) return T{};
    U u = 0;
    for (size_t i = 0; i < sizeof(T); ++i) u |= static_cast<U>(static_cast<U>(in_[pos_ + i]) << (8 * i));
    pos_ += sizeof(T);
    return static_cast<T>(u);
  }
  // A bool is one byte, 0 or 1; anything else is malformed.
  bool getBool() {
    const uint8_t b = get<uint8_t>();
    if (b > 1) fail("a boolean field is neither 0 nor 1");
    return b == 1;
  }
  // Strings: at most kMaxString bytes, no NUL byte (names travel into C APIs).
  std::string getString() {
    const uint16_t n = get<uint16_t>();
    if (n > kMaxString) {
      fail("a string field is longer than " + std::to_string(kMaxString) + " bytes");
      return {};
    }
    if (!need(n)) return {};
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    if (s.find('\0') != std::string::npos) fail("a string field contains a NUL byte");
    return s;
  }
  // A u32 element count, checked against what the remaining bytes could possibly hold.
  uint32_t getCount(size_t min_item_bytes) {
    const uint32_t n = get<uint32_t>();
    if (n > kMaxListItems || (min_item_bytes > 0 && n > remaining() / min_item_bytes)) {
      fail("a list claims " + std::to_string(n) + " entries, more than the message holds");
      return 0;
    }
    return n;
  }

  size_t remaining() const { return in_.size() - pos_; }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    pos_ = in_.size();
  }
  // The whole input must have been consumed.
  void finish() {
    if (ok() && remaining() != 0) fail(std::to_string(remaining()) + " unexpected trailing bytes");
  }

 private:
  bool need(size_t n) {
    if (!ok()) return false;
    if (remaining() < n) {
      fail("the message ends in the middle of a field");
      return false;
    }
    return true;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace dmaheap::proto
