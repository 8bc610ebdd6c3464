// The stand-in for /dev/dma_heap when no namespace is available.
#include "emulation/dev_paths.h"

#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace dmaheap::emul {

std::string normalisePath(const std::string& base, const std::string& path, bool* trailing_slash) {
  const std::string full = (!path.empty() && path[0] == '/') ? path : base + "/" + path;
  if (trailing_slash) *trailing_slash = !path.empty() && path.back() == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= full.size()) {
    const size_t j = std::min(full.find('/', i), full.size());
    const std::string part = full.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

Result<std::unique_ptr<DevPaths>> DevPaths::create(const std::vector<std::string>& heaps) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::string base = runtime && *runtime ? runtime : "/tmp";
  if (::access(base.c_str(), W_OK) != 0) base = "/tmp";
  std::string tmpl = base + "/dmaheap-run-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return makeError(errno, "mkdtemp " + tmpl + ": " + std::strerror(errno));
  std::unique_ptr<DevPaths> d(new DevPaths);
  d->top_ = buf.data();
  d->directory_ = d->top_ + "/dma_heap";
  d->heaps_ = heaps;
  if (::mkdir(d->directory_.c_str(), 0755) != 0) return makeError(errno, "mkdir " + d->directory_ + ": " + std::strerror(errno));
  for (const auto& h : heaps) {
    const std::string entry = d->directory_ + "/" + h;
    if (::symlink(kNodeTarget, entry.c_str()) != 0) return makeError(errno, "symlink " + entry + ": " + std::strerror(errno));
  }
  return d;
}

DevPaths::~DevPaths() {
  if (top_.empty()) return;
  for (const auto& h : heaps_) (void)::unlink((directory_ + "/" + h).c_str());
  (void)::rmdir(directory_.c_str());
  (void)::rmdir(top_.c_str());
}

DevPath DevPaths::classify(const std::string& normalised) const {
  static const std::string kDir = "/dev/dma_heap";
  if (normalised == kDir) return {DevPath::kDirectory, ""};
  if (normalised.size() <= kDir.size() + 1 || normalised.compare(0, kDir.size() + 1, kDir + "/") != 0) return {};
  const std::string name = normalised.substr(kDir.size() + 1);
  if (const size_t slash = name.find('/'); slash != std::string::npos) {
    const std::string first = name.substr(0, slash);
    if (std::find(heaps_.begin(), heaps_.end(), first) != heaps_.end()) return {DevPath::kBelowHeap, first};
    return {DevPath::kMissing, name};
  }
  if (std::find(heaps_.begin(), heaps_.end(), name) != heaps_.end()) return {DevPath::kHeap, name};
  return {DevPath::kMissing, name};
}

void DevPaths::remember(const std::string& heap, UniqueFd ours) { opened_[heap].push_back(std::move(ours)); }

std::optional<std::string> DevPaths::heapOf(pid_t tid, int fd) const {
  const pid_t self = ::getpid();
  for (const auto& [heap, fds] : opened_) {
    for (const auto& ours : fds) {
      if (::syscall(SYS_kcmp, tid, self, KCMP_FILE, fd, ours.get()) == 0) return heap;
    }
  }
  return std::nullopt;
}

}  // namespace dmaheap::emul
