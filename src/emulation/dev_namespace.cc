// Building the private /dev of `dmaheap run`.
#include "emulation/dev_namespace.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
    // A link that cannot be made is left out, like an entry that cannot be bound below.
    [[maybe_unused]] const int made = ::symlinkat(link, new_dir, name);
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


// True when `path` is the root of a mount (STATX_ATTR_MOUNT_ROOT, Linux 5.8+; `dmaheap run`
// needs 5.9 anyway). Propagation can only be changed on a mount root.
bool isMountRoot(const char* path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) != 0) return false;
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// The mount point of mount `mnt_id` as /proc/self/mountinfo names it (octal escapes undone),
// or "" when it is not listed.
std::string mountPointOf(uint64_t mnt_id) {
  FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (!f) return {};
  std::string found;
  char* line = nullptr;
  size_t cap = 0;
  while (::getline(&line, &cap, f) > 0) {
    unsigned long long id = 0;
    char point[4096];
    // ID PARENT MAJ:MIN ROOT MOUNT-POINT ...
    if (std::sscanf(line, "%llu %*u %*s %*s %4095s", &id, point) != 2 || id != mnt_id) continue;
    for (const char* p = point; *p; ++p) {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
        found += static_cast<char>((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
        p += 3;
      } else {
        found += *p;
      }
    }
    break;
  }
  std::free(line);
  std::fclose(f);
  return found;
}

// In a chroot whose / and /dev are plain directories, the mount holding both lies outside our
// root, so no path we can see names it. Step out of the chroot (we hold CAP_SYS_CHROOT: this is
// the root-only branch), make that mount and everything below it a slave in our namespace, and
// step back in, to the same root and working directory. Only this process's root and mount
// namespace change.
Status slaveTheMountAboveRoot() {
  UniqueFd old_root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd old_cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!old_root || !old_cwd) return fail("open / and .");
  struct statx root_stx {};
  if (::statx(old_root.get(), "", AT_EMPTY_PATH, STATX_MNT_ID, &root_stx) != 0 || !(root_stx.stx_mask & STATX_MNT_ID))
    return makeError(ENOTSUP, "statx cannot report the mount id of / (needs Linux 5.8)");
  // chroot into a directory below us while the working directory stays at the old root: ".."
  // then climbs past it, up to the namespace's own root.
  if (::fchdir(old_root.get()) != 0) return fail("fchdir /");
  if (::chroot("dev") != 0) return fail("chroot /dev");
  for (int depth = 0; depth < 4096; ++depth) {
    struct stat here {}, up {};
    if (::stat(".", &here) != 0 || ::stat("..", &up) != 0) return fail("stat ..");
    if (here.st_dev == up.st_dev && here.st_ino == up.st_ino) break;
    if (::chdir("..") != 0) return fail("chdir ..");
  }
  if (::chroot(".") != 0) return fail("chroot to the namespace root");
  const std::string point = mountPointOf(root_stx.stx_mnt_id);
  Status st;
  if (point.empty()) {
    st = makeError(ENOENT, "the mount holding / is not in /proc/self/mountinfo");
  } else if (::mount(nullptr, point.c_str(), nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    st = fail("make " + point + " (the mount holding /) a slave mount");
  }
  // Back into the chroot, whatever happened above.
  if (::fchdir(old_root.get()) != 0 || ::chroot(".") != 0) return fail("return to the chroot");
  if (::fchdir(old_cwd.get()) != 0) return fail("return to the working directory");
  return st;
}

// Our mounts (a tmpfs on /dev and binds below it) must never reach the host, while the host's
// later mounts may still reach us: the mount they are made on must be a slave, not a peer of the
// host's. Normally that is "/" made a slave recursively. In a chroot "/" is usually not a mount
// root (MS_SLAVE on it fails with EINVAL): then the mount /dev lives on is made a slave — /dev
// itself when it is bind-mounted into the chroot, else the mount holding the chroot, reached by
// stepping out of it. A new user namespace needs none of this when "/" is not a mount root: the
// kernel already reduced every shared mount it copied into the less privileged namespace to a
// slave (mount_namespaces(7)), and a chrooted process cannot create one anyway.
Status stopPropagationToHost(bool user_namespace) {
  if (isMountRoot("/")) {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return fail("make / a slave mount");
    return {};
  }
  if (user_namespace) return {};
  if (isMountRoot("/dev")) {
    if (::mount(nullptr, "/dev", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return fail("make /dev a slave mount");
    return {};
  }
  return slaveTheMountAboveRoot();
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
  if (auto st = stopPropagationToHost(options.user_namespace); !st) return st.error();

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
