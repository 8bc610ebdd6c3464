// Reports of a simulation: text for people, JSON for scripts, SVG plots of the series.
#pragma once

#include <string>

#include "simulate/simulator.h"

namespace dmaheap::sim {

std::string reportText(const SimResult& r, uint64_t page_size);
std::string reportJson(const SimResult& r, uint64_t page_size);
// Fragmentation over time for every CMA area (largest free run, free pageblocks, borrowed and
// pinned pages) and the failure count, one panel per area.
std::string reportSvg(const SimResult& r, uint64_t page_size);

}  // namespace dmaheap::sim
