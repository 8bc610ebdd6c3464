// The `dmaheap run` filter built with libseccomp for every ABI of the host, loaded by seccomp(2).
#include "emulation/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "heap/uapi.h"

namespace dmaheap::emul {
namespace {

constexpr uint32_t kBufCommands[] = {uapi::kBufIoctlSync, uapi::kBufSetNameA, uapi::kBufSetNameB,
                                     uapi::kBufExportSyncFile, uapi::kBufImportSyncFile};

// The ABIs per host architecture, as data: libseccomp's token, and what a notification says.
struct AbiRow {
  uint32_t scmp_arch;
  uint32_t audit_arch;  // not always the token: x32's notifications say AUDIT_ARCH_X86_64
  bool pointers_32bit;
};
#if defined(__x86_64__)
constexpr AbiRow kAbis[] = {{SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64, false},
                            {SCMP_ARCH_X86, AUDIT_ARCH_I386, true},
                            {SCMP_ARCH_X32, AUDIT_ARCH_X86_64, true}};
#elif defined(__aarch64__)
constexpr AbiRow kAbis[] = {{SCMP_ARCH_AARCH64, AUDIT_ARCH_AARCH64, false}, {SCMP_ARCH_ARM, AUDIT_ARCH_ARM, true}};
#else
#error "dmaheap run: add this architecture's ABIs"
#endif

// The path calls by libseccomp's names.
constexpr std::pair<const char*, Syscall> kPathCalls[] = {
    {"open", Syscall::kOpen},         {"openat", Syscall::kOpenat},       {"newfstatat", Syscall::kNewfstatat},
    {"stat", Syscall::kStat},         {"lstat", Syscall::kLstat},         {"statx", Syscall::kStatx},
    {"access", Syscall::kAccess},     {"faccessat", Syscall::kFaccessat}, {"faccessat2", Syscall::kFaccessat2}};

struct ContextDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

Error libseccompError(int rc, const std::string& what) {
  const int e = rc < 0 ? -rc : EINVAL;
  return makeError(e, "libseccomp " + what + ": " + std::strerror(e));
}

std::vector<FilterAbi> knownAbis() {
  std::vector<FilterAbi> out;
  for (const AbiRow& row : kAbis) {
    const int nr = seccomp_syscall_resolve_name_arch(row.scmp_arch, "ioctl");
    if (nr < 0) continue;  // this libseccomp does not know the ABI
    FilterAbi abi;
    abi.audit_arch = row.audit_arch;
    abi.ioctl_nr = static_cast<uint32_t>(nr);
    abi.pointers_32bit = row.pointers_32bit;
    abi.native = &row == &kAbis[0];
    for (const auto& [call_name, call] : kPathCalls) {
      const int call_nr = seccomp_syscall_resolve_name_arch(row.scmp_arch, call_name);
      if (call_nr >= 0) abi.path_calls.emplace_back(static_cast<uint32_t>(call_nr), call);
    }
    switch (row.scmp_arch) {
      case SCMP_ARCH_X86_64: abi.name = "x86_64"; break;
      case SCMP_ARCH_X86: abi.name = "x86"; break;
      case SCMP_ARCH_X32: abi.name = "x32"; break;
      case SCMP_ARCH_AARCH64: abi.name = "aarch64"; break;
      case SCMP_ARCH_ARM: abi.name = "arm"; break;
      default: abi.name = "?"; break;
    }
    out.push_back(std::move(abi));
  }
  return out;
}

Result<std::vector<uint8_t>> readAll(int fd) {
  std::vector<uint8_t> out;
  if (::lseek(fd, 0, SEEK_SET) != 0) return makeError(errno, std::string("lseek: ") + std::strerror(errno));
  uint8_t chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError(errno, std::string("read: ") + std::strerror(errno));
    if (n == 0) return out;
    out.insert(out.end(), chunk, chunk + n);
  }
}

}  // namespace

const std::vector<FilterAbi>& filterAbis() {
  static const std::vector<FilterAbi> abis = knownAbis();
  return abis;
}

std::optional<FilterAbi> abiOfIoctl(uint32_t audit_arch, uint32_t nr) {
  for (const FilterAbi& abi : filterAbis())
    if (abi.audit_arch == audit_arch && abi.ioctl_nr == nr) return abi;
  return std::nullopt;
}

std::optional<DecodedCall> decodeCall(uint32_t audit_arch, uint32_t nr) {
  for (const FilterAbi& abi : filterAbis()) {
    if (abi.audit_arch != audit_arch) continue;
    if (abi.ioctl_nr == nr) return DecodedCall{abi, Syscall::kIoctl};
    for (const auto& [call_nr, call] : abi.path_calls)
      if (call_nr == nr) return DecodedCall{abi, call};
  }
  return std::nullopt;
}

bool filterMatchesIoctl(uint32_t cmd) {
  for (uint32_t c : kBufCommands)
    if (c == cmd) return true;
  return uapi::iocType(cmd) == uapi::kHeapMagic;
}

Result<FilterProgram> buildDmaHeapFilter(bool emulate_paths, const std::vector<uint32_t>* buffer_commands) {
  Context ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return makeError(ENOMEM, "libseccomp seccomp_init failed");
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW); rc != 0) {
    return libseccompError(rc, "SCMP_FLTATR_ACT_BADARCH");
  }
  for (const AbiRow& row : kAbis) {
    const int rc = seccomp_arch_add(ctx.get(), row.scmp_arch);
    if (rc != 0 && rc != -EEXIST) return libseccompError(rc, "seccomp_arch_add");
  }
  // Only the low 32 bits of cmd count (the kernel's unsigned int cmd): sign-extended values
  // match too.
  const int ioctl_nr = SCMP_SYS(ioctl);
  for (uint32_t cmd : kBufCommands) {
    if (buffer_commands && std::find(buffer_commands->begin(), buffer_commands->end(), cmd) == buffer_commands->end()) {
      continue;
    }
    const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, ioctl_nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, cmd));
    if (rc != 0) return libseccompError(rc, "seccomp_rule_add(dma-buf ioctl)");
  }
  const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, ioctl_nr, 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00u, uapi::kHeapMagic << 8));
  if (rc != 0) return libseccompError(rc, "seccomp_rule_add(dma-heap ioctl)");
  if (emulate_paths) {
    for (const auto& [call_name, call] : kPathCalls) {
      (void)call;
      // A pseudo number (negative) for a call the native ABI lacks: libseccomp adds it where it exists.
      const int nr = seccomp_syscall_resolve_name(call_name);
      if (nr == __NR_SCMP_ERROR) continue;
      if (int prc = seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, nr, 0); prc != 0 && prc != -EDOM) {
        return libseccompError(prc, std::string("seccomp_rule_add(") + call_name + ")");
      }
    }
  }

  UniqueFd mem(::memfd_create("dmaheap-seccomp-bpf", MFD_CLOEXEC));
  if (!mem) return makeError(errno, std::string("memfd_create: ") + std::strerror(errno));
  if (int erc = seccomp_export_bpf(ctx.get(), mem.get()); erc != 0) return libseccompError(erc, "seccomp_export_bpf");
  auto bytes = readAll(mem.get());
  if (!bytes) return bytes.error();
  if (bytes->empty() || bytes->size() % sizeof(struct sock_filter) != 0 ||
      bytes->size() / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    return makeError(EINVAL, "libseccomp exported a BPF program of " + std::to_string(bytes->size()) + " bytes");
  }
  FilterProgram program;
  program.insns.resize(bytes->size() / sizeof(struct sock_filter));
  std::memcpy(program.insns.data(), bytes->data(), bytes->size());
  return program;
}

Result<UniqueFd> installDmaHeapFilter(const FilterProgram& program, bool* killable_wait) {
  struct sock_fprog fprog = {static_cast<unsigned short>(program.insns.size()),
                             const_cast<struct sock_filter*>(program.insns.data())};
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
  bool killable = true;
  if (fd < 0 && errno == EINVAL) {  // before 5.19: no WAIT_KILLABLE_RECV
    killable = false;
    fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
  }
  if (fd < 0) {
    const int e = errno;
    return makeError(e, std::string("seccomp(SET_MODE_FILTER, NEW_LISTENER): ") + std::strerror(e));
  }
  if (killable_wait) *killable_wait = killable;
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace dmaheap::emul
