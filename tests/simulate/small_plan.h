// The board the simulator's tests run on: 64 MiB of RAM with a 16 MiB default CMA area at its
// top (the tests use kernel 6.18).
#pragma once

#include "devicetree/board_plan.h"

namespace dmaheap::sim {

inline dt::BoardPlan smallPlan() {
  dt::BoardPlan p;
  p.memory = {{0x40000000, 64 * kMiB}};
  dt::CmaArea a;
  a.name = "reserved";
  a.base = 0x40000000 + 48 * kMiB;
  a.size = 16 * kMiB;
  a.is_default = true;
  p.cma_areas = {a};
  return p;
}

}  // namespace dmaheap::sim
