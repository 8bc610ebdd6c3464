// The one catalogue of dt-check diagnostics, and the one pass that turns what the boot replay
// recorded into Diagnostics. The replay (memory_scan, reserved_scan, reserved_handlers,
// cma_declare, cma_activation) records a DiagEvent when something a person should act on
// happens to a node; it never writes a message. Every event names one catalogue row: its stable
// code (docs/cli.md: never renamed), its severity, the message and the fix
// as templates. docs/diagnostics.md lists every code; tests/devicetree/diagnostics_test.cc fails
// when the two disagree.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "devicetree/board_plan.h"

namespace dmaheap::dt {

// What happened, one enumerator per catalogue row (several rows may share a code).
enum class DiagEvent {
  kRootCellsShort,
  kRootCellsUnusable,
  kNoMemory,
  kMemoryBlockTooSmall,
  kMemoryBlockTooHigh,
  kMemoryRangeTruncated,
  kContainerMisnamed,
  kContainerBadFormat,
  kRegLengthInvalid,
  kRegPairSizeZero,
  kRegPairNomapBusy,
  kReservedArrayFull,
  kDynamicArrayOverflow,
  kSizeBadLength,
  kAlignmentBadLength,
  kAllocRangesBadLength,
  kDynamicAllocFailed,
  kOverlap,
  kCmaReusableNoMap,
  kCmaDefaultBypassed,
  kCmaMisaligned,
  kCmaNoSlot,
  kCmaSetupFailed,
  kCoherentPoolClaimsDefault,
  kCoherentPool,
  kCoherentPoolMapped,
  kCoherentPoolRefusedMapped,  // 32-bit ARM: the same pool refused (docs/kernel-behaviour.md §11.3)
  kHandlerFailed,
  kNoHandler,
  kDefaultAreaMisaligned,
  kDefaultAreaCrossesLowHigh,
  kDefaultAreaAboveLimit,
  kDefaultAreaBusy,
  kDefaultAreaNoFreeBlock,
  kDefaultAreaLimitBelowRam,
  kDefaultAreaInitRefused,
  kDefaultAreaInitNoSlot,
  kDefaultAreaNoSlot,
  kDtDefaultIgnoresCmdline,
  kCmaDefaultDuplicate,
  kCmaOutsideMemory,
  kCmaCrossesZones,
  kCmaDefaultSkippedForCmdline,
  kHeapNameChanged,
  kCmaAreaNoHeap,
  // dt-check --devices only (docs/device-trees.md, "Devices and their regions").
  kDeviceRegionNowhere,
  kDeviceRegionNotReserved,
  kDeviceRegionDisabled,
  kDeviceRegionFailed,
  kDeviceRegionUnreachable,
  kPipelineNoCmaHeap,
  kCount
};

// One row. Templates: `{name}` is replaced by the argument `name`; `{?name:text}` keeps `text`
// (itself a template) when `name` is set and not empty, `{!name:text}` when it is not; a `{` not
// followed by a letter, `?` or `!` is plain text. The pass sets `no_memory` for every event.
struct CatalogueEntry {
  DiagEvent event;
  const char* code;
  Severity severity;
  bool note_without_memory;  // reported as a note when the tree has no /memory (a bootloader adds it)
  const char* message;
  const char* fix;
};

std::span<const CatalogueEntry> diagnosticsCatalogue();
const CatalogueEntry& catalogueEntry(DiagEvent event);

using DiagArgs = std::vector<std::pair<std::string, std::string>>;

// One recorded happening: which row, which node, the values its templates use, the kernel's own
// log lines about it.
struct RecordedEvent {
  DiagEvent event;
  std::string node;
  DiagArgs args;
  std::vector<std::string> kernel_log;
};

// Fills a template (see CatalogueEntry). An argument the template names but `args` lacks is
// rendered as `{name?}` so the gap shows in tests instead of silently vanishing.
std::string fillTemplate(const char* text, const DiagArgs& args);

// The one pass: every event, in order, as a Diagnostic from its catalogue row.
std::vector<Diagnostic> diagnose(std::span<const RecordedEvent> events, bool tree_has_memory);

}  // namespace dmaheap::dt
