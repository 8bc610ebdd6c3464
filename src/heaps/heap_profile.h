// Heap profiles: extra heaps a vendor or Android kernel adds on top of what the mainline kernel
// makes, from a file (`--heaps FILE`, JSON) or by name (`--profile NAME`). One parser reads
// both: the built-in profiles are written in the file format. Format and built-in profiles:
// docs/heap-profiles.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "heaps/heap_kind.h"

namespace dmaheap {

// The heaps a profile file's text lists, in order. `origin` names the text in messages (the
// file name). EINVAL with "ORIGIN: heaps[N]: why" for anything but the documented format:
// malformed JSON, an unknown or mistyped key, a missing kind, an empty name. Kinds are not
// checked here (the heap-kind table does that when the board is assembled).
Result<std::vector<HeapSpec>> parseHeapProfile(std::string_view json_text, const std::string& origin);

// The same from a file: its errno (ENOENT, ...) when it cannot be read.
Result<std::vector<HeapSpec>> readHeapProfileFile(const std::string& path);

// A built-in profile by name ("android", "rockchip", "nxp"). EINVAL naming the known profiles
// for any other name.
Result<std::vector<HeapSpec>> builtinHeapProfile(std::string_view name);
std::vector<std::string> builtinHeapProfileNames();

// Both options of a board-taking command: the named profile's heaps, then the file's ("" = none).
Result<std::vector<HeapSpec>> heapProfileFromOptions(const std::string& profile, const std::string& heaps_file);

}  // namespace dmaheap
