// libdmaheap-embedded.so: the embedded backend (a board's heaps in this process) as libdmaheap's
// optional component. Its only exported symbol is the entry the core looks up after dlopen
// (see embedded_component.h).
#include <cstdlib>
#include <string>

#include "board/board_loader.h"
#include "client/embedded_component.h"
#include "emulation/embedded_backend.h"
#include "heap/backing.h"

namespace dmaheap::client {
namespace {

std::string optionOrEnv(const std::string& option, const char* env) {
  if (!option.empty()) return option;
  const char* v = std::getenv(env);
  return v ? v : "";
}

Result<std::unique_ptr<emul::HeapBackend>> createEmbedded(const AllocatorOptions& o) {
  BoardOptions b;
  b.dtb = optionOrEnv(o.dtb, "DMAHEAP_DTB");
  b.kernel = o.kernel;
  b.kernel_config = o.kernel_config;
  b.profile = optionOrEnv(o.profile, "DMAHEAP_PROFILE");
  b.heaps_file = optionOrEnv(o.heaps_file, "DMAHEAP_HEAPS");
  auto board = loadBoard(b);
  if (!board) return board.error();
  // What backs the buffers (heap/backing.h): $DMAHEAP_BACKING, else auto.
  BackingOptions backing;
  if (const std::string choice = optionOrEnv("", "DMAHEAP_BACKING"); !choice.empty()) {
    auto parsed = parseBackingChoice(choice);
    if (!parsed) return makeError(parsed.code(), "DMAHEAP_BACKING: " + parsed.error().message());
    backing.choice = parsed.value();
  }
  backing.paths = HostPaths::fromEnvironment();
  backing.notice_prefix = "libdmaheap";
  // Memfds prepared ahead (heap/prepared_pool.h): $DMAHEAP_PREPARED, else the defaults.
  auto prepared = PreparedPoolOptions::fromEnvironment();
  if (!prepared) return prepared.error();
  backing.prepared = prepared.value();
  auto selected = selectBacking(backing);
  if (!selected) return makeError(selected.code(), "DMAHEAP_BACKING: " + selected.error().message());
  board.value()->registry->setBacking(std::move(selected.value()));
  auto backend = emul::EmbeddedBackend::create(std::move(board.value()));
  if (!backend) return backend.error();
  return std::unique_ptr<emul::HeapBackend>(std::move(backend.value()));
}

}  // namespace
}  // namespace dmaheap::client

extern "C" __attribute__((visibility("default"))) const dmaheap::client::EmbeddedEntry dmaheap_embedded_entry_v1 = {
    dmaheap::client::thisBuildFingerprint(), &dmaheap::client::createEmbedded};
