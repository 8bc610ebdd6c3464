// Loading a device tree file: a .dtb is read as is; a .dts is compiled by running dtc as a child
// process (no shell). The result is a validated Fdt or an errno with a one-line reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "devicetree/fdt.h"

namespace dmaheap::dt {

// Reads `path` and returns a validated blob. A file starting with the FDT magic is a .dtb; any
// other file is handed to dtc as device-tree source. Errors (one line, no newline):
// ENOENT/EACCES/EISDIR the file cannot be read; EFBIG larger than 64 MiB; EINVAL not a device
// tree, malformed, or dtc refused it (dtc's first error line is quoted); ENOEXEC dtc is missing;
// ETIMEDOUT dtc did not finish in 30 s.
Result<Fdt> loadDeviceTree(const std::string& path);

// Compiles the device-tree source file `path` with dtc and returns the blob bytes (not yet
// validated). EINVAL with dtc's first error line, ENOEXEC without dtc, ETIMEDOUT after 30 s.
Result<std::vector<uint8_t>> compileDts(const std::string& path);

}  // namespace dmaheap::dt
