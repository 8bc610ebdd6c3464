// Building the private /dev of `dmaheap run`.
#include "emulation/dev_namespace.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/unique_fd.h"

namespace dmaheap::emul {
namespace {

Error fail(const std::string& what) { return makeError(errno, what + ": " + std::strerror(errno)); }

Status writeFile(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail("open " + path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return fail("write " + path);
  return {};
}

// Maps only our own ids: inside, the program keeps its uid and gid.
Status enterUserNamespace() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return fail("unshare(CLONE_NEWUSER|CLONE_NEWNS)");
  if (auto st = writeFile("/proc/self/setgroups", "deny"); !st) return st;
  if (auto st = writeFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n"); !st)
    return st;
  return writeFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
}

Status bindOnto(const std::string& source, const std::string& target) {
  // MS_REC: mounts below an entry (devpts, shm, mqueue) come along, and a user namespace
  // refuses to bind a subtree without its locked submounts.
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return fail("bind " + source + " on " + target);
  return {};
}

// Recreates one entry of the old /dev (reachable through old_dir) in the new one.
void recreateEntry(int old_dir, const std::string& old_prefix, int new_dir, const char* name) {
  struct stat st {};
  if (::fstatat(old_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  const std::string target = std::string("/dev/") + name;
  if (S_ISLNK(st.st_mode)) {
    char link[4096];
    const ssize_t n = ::readlinkat(old_dir, name, link, sizeof link - 1);
    if (n < 0) return;
    link[n] = '\0';
    (void)::symlinkat(link, new_dir, name);
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    if (::mkdirat(new_dir, name, st.st_mode & 07777) != 0) return;
  } else {
    UniqueFd f(::openat(new_dir, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    if (!f) return;
  }
  // An entry that cannot be bound (e.g. one the kernel hides from this user) is left empty:
  // the program sees it as it is on the host, minus access.
  (void)bindOnto(old_prefix + name, target);
}

}  // namespace

uint64_t mountIdOf(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID, &stx) != 0) return 0;
  return (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
}

Result<DevNamespace> enterDevNamespace(const DevNamespaceOptions& options) {
  if (options.user_namespace) {
    if (auto st = enterUserNamespace(); !st) return st.error();
  } else if (::unshare(CLONE_NEWNS) != 0) {
    return fail("unshare(CLONE_NEWNS)");
  }
  // Our mounts must never reach the host; the host's later mounts may still reach us.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return fail("make / a slave mount");

  UniqueFd old_dev(::open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!old_dev) return fail("open /dev");
  const std::string old_prefix = "/proc/self/fd/" + std::to_string(old_dev.get()) + "/";
  if (::mount("dmaheap-dev", "/dev", "tmpfs", MS_NOSUID, "mode=755") != 0) return fail("mount tmpfs on /dev");
  UniqueFd new_dev(::open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!new_dev) return fail("open the new /dev");

  {
    UniqueFd list_fd(::openat(old_dev.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!list_fd) return fail("list the old /dev");
    DIR* dir = ::fdopendir(list_fd.release());
    if (!dir) return fail("fdopendir");
    while (const struct dirent* e = ::readdir(dir)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (std::strcmp(e->d_name, "dma_heap") == 0) continue;  // a real one is replaced by ours
      recreateEntry(old_dev.get(), old_prefix, new_dev.get(), e->d_name);
    }
    ::closedir(dir);
  }

  DevNamespace ns;
  if (::mkdirat(new_dev.get(), "dma_heap", 0755) != 0) return fail("mkdir /dev/dma_heap");
  for (const std::string& node : options.heap_nodes) {
    const std::string path = "/dev/dma_heap/" + node;
    UniqueFd f(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    if (!f) return fail("create " + path);
    f.reset();
    if (::mount((old_prefix + "null").c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return fail("bind /dev/null on " + path);
    const uint64_t id = mountIdOf(path);
    if (id == 0) return makeError(ENOTSUP, "statx cannot report the mount id of " + path + " (needs Linux 5.8)");
    ns.heap_mount_ids.push_back(id);
  }
  if (::mount(nullptr, "/dev", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, nullptr) != 0)
    return fail("remount /dev read-only");
  return ns;
}

}  // namespace dmaheap::emul
