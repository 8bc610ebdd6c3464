// The fallback fd keeper (docs/service-restart.md).
#include "service/keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "protocol/transport.h"

namespace dmaheap::service {
namespace {

constexpr size_t kMaxKept = 64;

Result<sockaddr_un> addressOf(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return makeError(ENAMETOOLONG, "keeper socket path " + path + " is longer than " +
                                       std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// One message and the fds that came with it (close-on-exec). 0 bytes: the peer hung up.
Result<std::string> receive(int sock, std::vector<UniqueFd>& fds) {
  char text[4096];
  iovec iov{text, sizeof text};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxKept)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return makeError(errno, std::string("recvmsg: ") + std::strerror(errno));
  proto::takeFds(msg, fds);
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return makeError(EMSGSIZE, "a message or its fds were cut short");
  return std::string(text, static_cast<size_t>(n));
}

// The value of "KEY=value" among the message's lines, or nullptr-like empty with found=false.
bool field(const std::string& text, const std::string& key, std::string* value) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    if (line.rfind(key + "=", 0) == 0) {
      if (value) *value = line.substr(key.size() + 1);
      return true;
    }
    start = end + 1;
  }
  return false;
}

// Watches the inotify instance `fd` still has (lines "inotify wd:..." of its fdinfo); -1 if
// that cannot be read.
long watchesOf(int fd) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
  if (!info) return -1;
  long n = 0;
  for (std::string line; std::getline(info, line);)
    if (line.rfind("inotify wd:", 0) == 0) ++n;
  return n;
}

void logKeeper(const std::string& line) { std::fprintf(stderr, "dmaheapd keeper: %s\n", line.c_str()); }

}  // namespace

std::string keeperPath(const std::string& service_socket) { return service_socket + ".keeper"; }

Result<KeeperConnection> connectKeeper(const std::string& path, const std::string& exe) {
  auto addr = addressOf(path);
  if (!addr) return addr.error();
  KeeperConnection out;
  for (int attempt = 0; attempt < 3; ++attempt) {
    UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!sock) return makeError(errno, std::string("socket: ") + std::strerror(errno));
    if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) == 0) {
      std::vector<UniqueFd> fds;
      auto text = receive(sock.get(), fds);
      if (!text) return text.error();
      std::string names;
      if (text->empty()) return makeError(ECONNREFUSED, "the keeper at " + path + " serves another service already");
      if (!field(*text, "LISTEN_FDNAMES", &names)) return makeError(EPROTO, "the keeper at " + path + " did not say what it keeps");
      const auto named = names.empty() ? std::vector<std::string>{} : splitFdNames(names);
      if (named.size() != fds.size()) {
        return makeError(EPROTO, "the keeper named " + std::to_string(named.size()) + " fds and sent " + std::to_string(fds.size()));
      }
      for (size_t i = 0; i < fds.size(); ++i) out.kept.push_back(PassedFd{named[i], std::move(fds[i])});
      out.sock = std::move(sock);
      return out;
    }
    const int e = errno;
    if (e != ECONNREFUSED && e != ENOENT) return makeError(e, "connect " + path + ": " + std::strerror(e));
    // Nobody answers: start a keeper on a socket we bind here.
    if (e == ECONNREFUSED) ::unlink(path.c_str());
    UniqueFd listener(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!listener) return makeError(errno, std::string("socket: ") + std::strerror(errno));
    const mode_t old = ::umask(077);
    const int bound = ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
    ::umask(old);
    if (bound != 0) {
      if (errno == EADDRINUSE) continue;  // another service started one meanwhile
      return makeError(errno, "bind " + path + ": " + std::strerror(errno));
    }
    if (::listen(listener.get(), 4) != 0) return makeError(errno, std::string("listen: ") + std::strerror(errno));
    const pid_t child = ::fork();
    if (child < 0) return makeError(errno, std::string("fork: ") + std::strerror(errno));
    if (child == 0) {
      // Detached: its own session, not our child, no fd of ours but the socket, default signals.
      ::setsid();
      if (::fork() != 0) _exit(0);
      ::dup2(listener.get(), 3);
      ::close_range(4, ~0U, 0);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      const int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        if (devnull > 3) ::close(devnull);
      }
      ::execl(exe.c_str(), "dmaheapd", "--store-keeper", path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    out.started = true;
  }
  return makeError(EAGAIN, "no keeper could be reached or started at " + path);
}

int runKeeper(UniqueFd listener, const std::string& path) {
  ::fcntl(listener.get(), F_SETFD, FD_CLOEXEC);
  struct stat mine {};
  const bool have_path = ::stat(path.c_str(), &mine) == 0;
  std::vector<PassedFd> kept;
  UniqueFd client;
  bool had_client = false;
  const auto inotifyFd = [&]() {
    for (const auto& k : kept)
      if (k.name == "inotify") return k.fd.get();
    return -1;
  };
  for (;;) {
    if (!client && had_client) {
      const int in = inotifyFd();
      if (kept.empty() || (in >= 0 && watchesOf(in) == 0)) break;  // nothing left worth keeping
    }
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {listener.get(), POLLIN, 0};
    if (client) fds[n++] = {client.get(), POLLIN, 0};
    const int in = inotifyFd();
    if (!client && in >= 0) fds[n++] = {in, POLLIN, 0};
    // Before the first service arrives (it connects right after starting us), wait a while.
    const int rc = ::poll(fds, n, had_client ? -1 : 30000);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return 1;
    if (rc == 0 && !had_client) break;
    if (fds[0].revents & POLLIN) {
      UniqueFd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c) {
        ucred cred{};
        socklen_t len = sizeof cred;
        const bool same_uid = ::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == ::getuid();
        if (!same_uid || client) {
          // Refused: an empty message says so, then the connection closes.
          (void)::send(c.get(), "", 0, MSG_NOSIGNAL);
          if (!same_uid) logKeeper("refused a connection of uid " + std::to_string(cred.uid));
        } else {
          std::string names;
          std::vector<int> raw;
          for (const auto& k : kept) {
            names += (names.empty() ? "" : ":") + k.name;
            raw.push_back(k.fd.get());
          }
          const std::string text = "LISTEN_FDNAMES=" + names;
          iovec iov{const_cast<char*>(text.data()), text.size()};
          msghdr msg{};
          msg.msg_iov = &iov;
          msg.msg_iovlen = 1;
          alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxKept)] = {};
          if (!raw.empty()) {
            msg.msg_control = control;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * raw.size());
            cmsghdr* cm = CMSG_FIRSTHDR(&msg);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * raw.size());
            std::memcpy(CMSG_DATA(cm), raw.data(), sizeof(int) * raw.size());
          }
          if (::sendmsg(c.get(), &msg, MSG_NOSIGNAL) >= 0) {
            client = std::move(c);
            had_client = true;
          }
        }
      }
    }
    if (client && n > 1 && fds[1].fd == client.get() && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      std::vector<UniqueFd> got;
      auto text = receive(client.get(), got);
      if (!text || text->empty()) {
        client.reset();  // the service is gone (exited, killed, or restarting)
      } else {
        std::string name;
        const bool named = field(*text, "FDNAME", &name) && !name.empty() && name.find(':') == std::string::npos;
        if (field(*text, "FDSTOREREMOVE", nullptr) && named) {
          std::erase_if(kept, [&](const PassedFd& k) { return k.name == name; });
        } else if (field(*text, "FDSTORE", nullptr) && named) {
          for (auto& fd : got) {
            if (kept.size() >= kMaxKept) {
              logKeeper("store full (" + std::to_string(kMaxKept) + " fds): not keeping " + name);
              break;
            }
            kept.push_back(PassedFd{name, std::move(fd)});
          }
        }
      }
    }
    if (!client && in >= 0 && n > 1 && fds[n - 1].fd == in && (fds[n - 1].revents & POLLIN)) {
      // Buffers going away while no service runs: the events are not needed (the next service
      // checks every watch), only the count of watches left.
      char buf[4096];
      while (::read(in, buf, sizeof buf) > 0) {
      }
    }
  }
  struct stat now {};
  if (have_path && ::stat(path.c_str(), &now) == 0 && now.st_ino == mine.st_ino && now.st_dev == mine.st_dev) {
    ::unlink(path.c_str());
  }
  return 0;
}

}  // namespace dmaheap::service
