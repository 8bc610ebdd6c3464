// HolderWatch: the watch reports a memfd only when its last fd and mapping are gone.
#include "emulation/holder_watch.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

namespace dmaheap::emul {
namespace {

TEST(HolderWatch, ReportsTheLastCloseNotEarlier) {
  auto watch = HolderWatch::create();
  ASSERT_TRUE(watch.ok());
  UniqueFd fd(::memfd_create("t", MFD_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::ftruncate(fd.get(), 4096), 0);
  auto wd = watch->watch(fd.get());
  ASSERT_TRUE(wd.ok());
  UniqueFd dup(::dup(fd.get()));
  fd.reset();
  EXPECT_TRUE(watch->drain().empty()) << "a second fd still holds it";
  void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, dup.get(), 0);
  ASSERT_NE(map, MAP_FAILED);
  dup.reset();
  EXPECT_TRUE(watch->drain().empty()) << "a mapping still holds it";
  ::munmap(map, 4096);
  auto gone = watch->drain();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], wd.value());
}

}  // namespace
}  // namespace dmaheap::emul
