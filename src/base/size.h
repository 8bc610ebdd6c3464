// Parsing and printing byte sizes: "4096", "4K", "64M", "1G", "0x1000".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace dmaheap {

// Parses a non-negative size: decimal or 0x-hex digits, optionally followed by one of
// K, M, G, T (binary multiples, case-insensitive, optional trailing "iB" or "B").
// EINVAL for anything else, ERANGE when the value does not fit in 64 bits.
Result<uint64_t> parseSize(std::string_view text);

// Like the kernel's memparse: digits (decimal, 0x hex, leading-0 octal) followed by an optional
// K/M/G/T/P/E suffix. Returns the value and the unparsed rest. EINVAL if there are no digits.
struct MemparseResult {
  uint64_t value = 0;
  std::string_view rest;
};
Result<MemparseResult> memparse(std::string_view text);

// "64 MiB", "4 KiB", "3215360 bytes": exact, the largest unit that divides the value.
std::string formatSize(uint64_t bytes);

// "0x0000000040000000"
std::string formatAddr(uint64_t addr);

}  // namespace dmaheap
