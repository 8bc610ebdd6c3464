// Size parsing and formatting.
#include "base/size.h"

#include <cctype>
#include <cstdio>
#include <limits>

namespace dmaheap {
namespace {

int shiftForSuffix(char c) {
  switch (std::toupper(static_cast<unsigned char>(c))) {
    case 'K': return 10;
    case 'M': return 20;
    case 'G': return 30;
    case 'T': return 40;
    case 'P': return 50;
    case 'E': return 60;
    default: return -1;
  }
}

// Parses digits in the given base from the start of text. Returns the number of characters used,
// 0 if none; sets overflow when the value does not fit.
size_t parseDigits(std::string_view text, unsigned base, uint64_t* out, bool* overflow) {
  uint64_t v = 0;
  size_t i = 0;
  *overflow = false;
  for (; i < text.size(); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else break;
    if (d >= base) break;
    if (v > (std::numeric_limits<uint64_t>::max() - d) / base) *overflow = true;
    v = v * base + d;
  }
  *out = v;
  return i;
}

}  // namespace

Result<uint64_t> parseSize(std::string_view text) {
  const std::string shown(text);
  if (text.empty()) return makeError(EINVAL, "empty size");
  unsigned base = 10;
  std::string_view digits = text;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    digits = text.substr(2);
  }
  uint64_t value = 0;
  bool overflow = false;
  const size_t used = parseDigits(digits, base, &value, &overflow);
  if (used == 0) return makeError(EINVAL, "'" + shown + "' is not a size (expected digits, e.g. 4096, 64K, 16M)");
  if (overflow) return makeError(ERANGE, "'" + shown + "' does not fit in 64 bits");
  std::string_view rest = digits.substr(used);
  int shift = 0;
  if (!rest.empty()) {
    shift = shiftForSuffix(rest[0]);
    if (shift < 0 || shift > 40) {
      return makeError(EINVAL, "'" + shown + "' has an unknown suffix (use K, M, G or T)");
    }
    rest.remove_prefix(1);
    if (rest == "iB" || rest == "IB" || rest == "ib" || rest == "B" || rest == "b") rest = {};
    if (!rest.empty()) return makeError(EINVAL, "'" + shown + "' has trailing characters");
  }
  if (shift > 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return makeError(ERANGE, "'" + shown + "' does not fit in 64 bits");
  }
  return value << shift;
}

Result<MemparseResult> memparse(std::string_view text) {
  unsigned base = 10;
  std::string_view digits = text;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    digits = text.substr(2);
  } else if (text.size() >= 2 && text[0] == '0') {
    base = 8;
  }
  uint64_t value = 0;
  bool overflow = false;
  const size_t used = parseDigits(digits, base, &value, &overflow);
  if (used == 0) return makeError(EINVAL, "expected a number at '" + std::string(text) + "'");
  if (overflow) return makeError(ERANGE, "number too large at '" + std::string(text) + "'");
  std::string_view rest = digits.substr(used);
  if (!rest.empty()) {
    const int shift = shiftForSuffix(rest[0]);
    if (shift >= 0) {
      value <<= shift;  // the kernel's memparse wraps silently; so do we
      rest.remove_prefix(1);
    }
  }
  return MemparseResult{value, rest};
}

std::string formatSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  if (bytes == 0) return "0 bytes";
  int unit = 0;
  uint64_t v = bytes;
  while (unit < 4 && v % 1024 == 0) {
    v /= 1024;
    ++unit;
  }
  return std::to_string(v) + " " + kUnits[unit];
}

std::string formatAddr(uint64_t addr) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(addr));
  return buf;
}

}  // namespace dmaheap
