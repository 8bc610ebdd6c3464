// libdmaheap-embedded.so: the embedded backend (a board's heaps in this process) as libdmaheap's
// optional component. Its only exported symbol is the entry the core looks up after dlopen
// (see embedded_component.h).
#include <cstdlib>
#include <string>

#include "board/board_loader.h"
#include "client/embedded_component.h"
#include "emulation/embedded_backend.h"

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
  auto backend = emul::EmbeddedBackend::create(std::move(board.value()));
  if (!backend) return backend.error();
  return std::unique_ptr<emul::HeapBackend>(std::move(backend.value()));
}

}  // namespace
}  // namespace dmaheap::client

extern "C" __attribute__((visibility("default"))) const dmaheap::client::EmbeddedEntry dmaheap_embedded_entry_v1 = {
    dmaheap::client::thisBuildFingerprint(), &dmaheap::client::createEmbedded};
