// Shared set-up for the emulation tests: an EmbeddedBackend on the built-in default board
// (2 GiB RAM, 64 MiB CMA area "reserved") of a chosen kernel.
#pragma once

#include <fcntl.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "board/board_loader.h"
#include "emulation/embedded_backend.h"
#include "heap/backing.h"

namespace dmaheap::emul::testing {

inline std::unique_ptr<EmbeddedBackend> defaultBackend(const std::string& kernel = "",
                                                       std::shared_ptr<Backing> backing = nullptr) {
  BoardOptions o;
  o.kernel = kernel;
  auto board = loadBoard(o);
  EXPECT_TRUE(board.ok()) << (board.ok() ? "" : board.error().message());
  if (!board) return nullptr;
  if (backing) board.value()->registry->setBacking(std::move(backing));
  auto backend = EmbeddedBackend::create(std::move(board.value()));
  EXPECT_TRUE(backend.ok());
  return backend.ok() ? std::move(backend.value()) : nullptr;
}

inline uapi::AllocationData request(uint64_t len, uint32_t fd_flags = O_RDWR | O_CLOEXEC) {
  return uapi::AllocationData{len, 0, fd_flags, 0};
}

}  // namespace dmaheap::emul::testing
