// Symbolic errno names ("ENOMEM") for messages and JSON.
#pragma once

#include <string>

namespace dmaheap {

// "ENOMEM" for ENOMEM; "E<number>" for values without a known name.
std::string errnoName(int err);

}  // namespace dmaheap
