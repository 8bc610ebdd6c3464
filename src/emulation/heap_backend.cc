// The parts of the HeapBackend seam that belong to no backend in particular.
#include "emulation/heap_backend.h"

#include <sys/stat.h>

namespace dmaheap::emul {

FileKey fileKeyOf(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  return FileKey{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

}  // namespace dmaheap::emul
