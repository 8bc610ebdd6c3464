// dmaheapd's epoll loop: clients, requests, fd hand-out, lifetime and accounting.
#include "service/service.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "base/errno_name.h"
#include "protocol/protocol.h"
#include "protocol/transport.h"
#include "heap/buffer_watcher.h"
#include "heap/dmabuf_ioctl.h"
#include "service/wire_views.h"
#include "service/holders.h"
#include "service/state.h"

namespace dmaheap::service {

using Clock = std::chrono::steady_clock;
// How long a release may wait for the next allocation to write the restart record for it.
constexpr std::chrono::milliseconds kReleaseRecordDelay{20};
using proto::Reply;

namespace {

// epoll tags below kFirstClientId name the service's own fds.
constexpr uint64_t kTagListener = 1;
constexpr uint64_t kTagWatcher = 2;
constexpr uint64_t kTagWake = 3;
constexpr uint64_t kTagSignal = 4;
constexpr uint64_t kTagStore = 5;
constexpr uint64_t kFirstClientId = 16;

Reply errorReply(const Error& e) {
  Reply r;
  r.error = e.code();
  r.message = e.message();
  return r;
}

template <typename T>
Reply okReply(T body) {
  Reply r;
  r.body = std::move(body);
  return r;
}

std::string readComm(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(f, comm);
  return comm;
}

}  // namespace

// One connection.
struct Service::Client {
  uint64_t id = 0;
  UniqueFd sock;
  PeerCredentials creds;
  std::string comm;
  proto::FrameBuffer in{proto::Direction::kRequest};
  std::deque<UniqueFd> fds;  // received, not yet claimed by a frame
  struct Out {
    std::vector<uint8_t> bytes;
    size_t offset = 0;
    UniqueFd fd;  // sent with the first byte, then closed: the service keeps no reference
  };
  std::deque<Out> out;
  size_t out_bytes = 0;
  Clock::time_point partial_since{};  // when the oldest incomplete request started arriving
  Clock::time_point stall_since{};    // when replies began waiting without progress
  uint32_t epoll_mask = 0;
  bool closing = false;               // protocol error sent: flush, then close
  std::set<std::string> logged;       // refusal kinds already logged for this client
  proto::ClientStats stats;
};

// One buffer handed out and not yet released by every holder.
struct Service::LiveBuffer {
  std::unique_ptr<Buffer> buffer;  // holds the physical memory; its fd was given away
  FileId file;
  uint64_t client = 0;
  int32_t owner_pid = 0;
  uint32_t owner_uid = 0;
  std::string owner_comm;
};

struct Service::Impl {
  Impl(const HeapRegistry& r, ServiceOptions o, BufferWatcher w)
      : registry(r), options(std::move(o)), watcher(std::move(w)) {}

  const HeapRegistry& registry;
  ServiceOptions options;
  BufferWatcher watcher;
  bool watcher_timer_polled = false;
  UniqueFd epoll;
  UniqueFd wake;
  UniqueFd signals;
  UniqueFd listener;
  std::string bound_path;  // unlinked at exit if we created it
  std::atomic<bool> stop_requested{false};

  std::map<uint64_t, std::unique_ptr<Client>> clients;
  uint64_t next_client_id = kFirstClientId;
  std::unordered_map<int, LiveBuffer> buffers;  // by watch id
  std::map<FileId, int> by_file;
  struct UidUse {
    uint32_t buffers = 0;
    uint64_t bytes = 0;
  };
  std::map<uint32_t, UidUse> uid_use;
  std::map<uint32_t, size_t> connections_of_uid;       // open connections per peer uid
  std::map<uint32_t, size_t> replies_of_uid;           // queued replies not yet sent, per peer uid
  std::set<std::pair<uint32_t, int>> refusals_logged;  // (uid, errno) refusals already logged
  uint64_t buffers_freed = 0;
  Clock::time_point started = Clock::now();
  // What survives a restart (docs/service-restart.md): set by keepState.
  std::unique_ptr<FdStore> store;
  std::optional<StateSlots> slots;
  std::string board;
  bool persist_failure_logged = false;
  // The first release the restart record does not show yet; {} when it shows them all.
  Clock::time_point releases_unrecorded_since{};
  std::function<Result<std::unique_ptr<FdStore>>()> reconnect_store;

  // The keeper hung up while we run: what it held is gone with it. A new keeper gets the
  // instance and both slots again, so a later restart still finds them.
  void storeLost() {
    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, store->connection(), nullptr);
    log("lost " + store->description() + "; storing the restart state again");
    store.reset();
    if (!reconnect_store) return;
    auto fresh = reconnect_store();
    if (!fresh) {
      log("cannot store the restart state again: " + fresh.error().message() + "; live buffers will not survive a restart");
      return;
    }
    store = std::move(fresh.value());
    for (auto [name, fd] : {std::pair<const char*, int>{"inotify", watcher.fd()}, {"state-a", slots->fd(0)}, {"state-b", slots->fd(1)}}) {
      if (auto ok = store->store(name, fd); !ok) log(ok.error().message());
    }
    if (store->connection() >= 0) (void)addToEpoll(store->connection(), kTagStore, EPOLLRDHUP);
    log("stored the restart state again in " + store->description());
  }

  // Writes the state of every live buffer into the slot not holding the newest record. The
  // store itself is not told: it holds the slot memfds already.
  Status persist() {
    releases_unrecorded_since = {};  // every release so far is in what is written now
    if (!slots) return {};
    PersistedState st;
    st.board = board;
    st.page_size = registry.kernel().pageSize();
    st.next_client_id = next_client_id;
    st.buffers_freed = buffers_freed;
    st.buffers.reserve(buffers.size());
    for (const auto& [wd, b] : buffers) {
      PersistedBuffer p;
      p.watch = wd;
      p.dev = b.file.dev;
      p.ino = b.file.ino;
      p.heap = b.buffer->heapName();
      p.size = b.buffer->size();
      p.segments = b.buffer->segments();
      p.name = b.buffer->name();
      p.client = b.client;
      p.owner_pid = b.owner_pid;
      p.owner_uid = b.owner_uid;
      p.owner_comm = b.owner_comm;
      st.buffers.push_back(std::move(p));
    }
    auto ok = slots->write(st);
    if (!ok && !persist_failure_logged) {
      log("cannot write the restart state: " + ok.error().message());
      persist_failure_logged = true;
    }
    if (ok) persist_failure_logged = false;
    return ok;
  }

  void log(const std::string& line) {
    if (options.log) {
      options.log(line);
    } else {
      std::fprintf(stderr, "dmaheapd: %s\n", line.c_str());
    }
  }
  std::string describe(const Client& c) const {
    return "client " + std::to_string(c.id) + " (pid " + std::to_string(c.creds.pid) + " uid " +
           std::to_string(c.creds.uid) + " " + c.comm + ")";
  }

  Status addToEpoll(int fd, uint64_t tag, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return makeError(errno, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    return {};
  }

  // ---- buffers ----

  void releaseFreed(const std::vector<int>& gone) {
    for (int wd : gone) {
      auto it = buffers.find(wd);
      if (it == buffers.end()) continue;
      LiveBuffer& b = it->second;
      const uint64_t size = b.buffer->size();
      auto& use = uid_use[b.owner_uid];
      use.buffers -= 1;
      use.bytes -= size;
      if (use.buffers == 0) uid_use.erase(b.owner_uid);
      if (auto c = clients.find(b.client); c != clients.end()) {
        c->second->stats.live_buffers -= 1;
        c->second->stats.live_bytes -= size;
      }
      if (options.trace) options.trace->released(b.file.dev, b.file.ino);
      by_file.erase(b.file);
      buffers.erase(it);  // the Buffer gives its pages back to the heap
      ++buffers_freed;
    }
    // The record of a release is written with the next allocation's (which writes the whole
    // state anyway) or kReleaseRecordDelay later, whichever comes first: a client that closes
    // one buffer and asks for the next then costs one record, not two (README.md
    // "Performance"). Until then the record still lists the freed buffers, which is what a
    // crash between the event and the write always left: a restarted service finds their
    // watches gone and counts them freed (docs/service-restart.md, "Release").
    if (!gone.empty() && releases_unrecorded_since == Clock::time_point{}) releases_unrecorded_since = Clock::now();
  }
  void recordReleasesIfDue(bool now) {
    if (releases_unrecorded_since == Clock::time_point{}) return;
    if (now || Clock::now() - releases_unrecorded_since >= kReleaseRecordDelay) (void)persist();
  }
  void pollWatcher() { releaseFreed(watcher.poll()); }
  // Memfds prepared ahead (heap/prepared_pool.h) get their release watch ahead on our instance;
  // `off` stops that before the instance goes.
  void watchPreparedWith(bool off = false) {
    const Backing* backing = registry.backing();
    if (!backing || !backing->preparedPool()) return;
    backing->preparedPool()->watchWith(off ? -1 : watcher.fd(), off ? 0 : watcher.id());
  }

  // ---- clients ----

  void accept() {
    for (int i = 0; i < 64; ++i) {
      UniqueFd sock(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!sock) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) log(std::string("accept: ") + std::strerror(errno));
        return;
      }
      auto c = std::make_unique<Client>();
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        c->creds.pid = cred.pid;
        c->creds.uid = cred.uid;
        c->creds.gid = cred.gid;
      } else {
        // No credentials, no access: nobody's uid.
        c->creds.uid = c->creds.gid = 65534;
      }
      if (clients.size() >= options.max_clients) {
        refuse(sock, c->creds, EMFILE,
               std::to_string(options.max_clients) + " clients are connected, the service's limit (max_clients)");
        continue;
      }
      const size_t per_uid = options.access.limitsFor(c->creds.uid).connections.value_or(options.max_clients_per_uid);
      if (connections_of_uid[c->creds.uid] >= per_uid) {
        refuse(sock, c->creds, EUSERS,
               "uid " + std::to_string(c->creds.uid) + " has " + std::to_string(per_uid) +
                   " connections open, the limit per user (max_clients_per_uid)");
        continue;
      }
      c->id = next_client_id++;
      gid_t groups[256];
      socklen_t glen = sizeof groups;
      if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0) {
        c->creds.groups.assign(groups, groups + glen / sizeof(gid_t));
      }
      c->comm = readComm(c->creds.pid);
      c->stats.id = c->id;
      c->stats.pid = static_cast<uint32_t>(c->creds.pid);
      c->stats.uid = c->creds.uid;
      c->stats.gid = c->creds.gid;
      c->stats.comm = c->comm;
      c->sock = std::move(sock);
      c->epoll_mask = EPOLLIN | EPOLLRDHUP;
      if (!addToEpoll(c->sock.get(), c->id, c->epoll_mask)) continue;
      connections_of_uid[c->creds.uid] += 1;
      clients.emplace(c->id, std::move(c));
    }
  }

  // A connection past a limit: one protocol-error frame saying why (a fresh socket's buffer
  // takes it without blocking), then closed. Logged once per uid and reason until that uid's
  // connections drop below the limit again, so a client retrying in a loop cannot flood the log.
  void refuse(UniqueFd& sock, const PeerCredentials& who, int err, const std::string& why) {
    const auto frame = proto::encodeProtocolError(err, "connection refused: " + why);
    (void)proto::sendWithFd(sock.get(), frame, -1, true);
    if (refusals_logged.insert({who.uid, err}).second) {
      log("refusing connections of uid " + std::to_string(who.uid) + " (pid " + std::to_string(who.pid) + "): " + why);
    }
  }

  void closeClient(uint64_t id, const std::string& why) {
    auto it = clients.find(id);
    if (it == clients.end()) return;
    if (!why.empty()) log(describe(*it->second) + " disconnected: " + why);
    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, it->second->sock.get(), nullptr);
    const uint32_t uid = it->second->creds.uid;
    if (auto n = connections_of_uid.find(uid); n != connections_of_uid.end() && --n->second == 0) {
      connections_of_uid.erase(n);
    }
    if (auto r = replies_of_uid.find(uid); r != replies_of_uid.end() && (r->second -= it->second->out.size()) == 0) {
      replies_of_uid.erase(r);
    }
    // A closed connection frees a slot under both limits: this uid's and the overall one.
    std::erase_if(refusals_logged, [uid](const auto& r) { return r.first == uid || r.second == EMFILE; });
    // Unsent replies close their fds here; those buffers are freed through the watcher.
    clients.erase(it);
  }

  void setMask(Client& c) {
    uint32_t mask = EPOLLRDHUP;
    if (!c.closing && c.out.size() < options.max_pending_replies) mask |= EPOLLIN;
    if (!c.out.empty()) mask |= EPOLLOUT;
    if (mask == c.epoll_mask) return;
    epoll_event ev{};
    ev.events = mask;
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, c.sock.get(), &ev);
    c.epoll_mask = mask;
  }

  void queue(Client& c, std::vector<uint8_t> bytes, UniqueFd fd = UniqueFd()) {
    c.out_bytes += bytes.size();
    c.out.push_back(Client::Out{std::move(bytes), 0, std::move(fd)});
    replies_of_uid[c.creds.uid] += 1;
  }

  // Sends what the socket takes. False if the client had to be closed.
  bool flush(Client& c) {
    bool progress = false;
    while (!c.out.empty()) {
      Client::Out& o = c.out.front();
      auto n = proto::sendWithFd(c.sock.get(), std::span<const uint8_t>(o.bytes).subspan(o.offset),
                                 o.offset == 0 ? o.fd.get() : -1, true);
      if (!n) {
        if (n.code() == EAGAIN || n.code() == EWOULDBLOCK) break;
        closeClient(c.id, c.closing ? "" : "send failed: " + n.error().message());
        return false;
      }
      progress = true;
      if (o.offset == 0) o.fd.reset();  // in flight now; the receiver holds it
      o.offset += *n;
      c.out_bytes -= *n;
      if (o.offset == o.bytes.size()) {
        c.out.pop_front();
        if (auto r = replies_of_uid.find(c.creds.uid); r != replies_of_uid.end() && --r->second == 0) replies_of_uid.erase(r);
      }
    }
    if (c.out.empty()) {
      c.stall_since = {};
      if (c.closing) {
        closeClient(c.id, "");
        return false;
      }
    } else if (progress || c.stall_since == Clock::time_point{}) {
      c.stall_since = Clock::now();
    }
    if (c.out_bytes > options.max_pending_bytes) {
      closeClient(c.id, "more than " + std::to_string(options.max_pending_bytes) + " bytes of replies unread");
      return false;
    }
    setMask(c);
    return true;
  }

  // The connection is beyond repair: say why, then close once that is sent.
  void protocolViolation(Client& c, const Error& e) {
    log(describe(c) + ": protocol error, closing: " + errnoName(e.code()) + ": " + e.message());
    c.closing = true;
    c.in = proto::FrameBuffer(proto::Direction::kRequest);
    c.fds.clear();
    queue(c, proto::encodeProtocolError(e.code(), e.message()));
  }

  // Reads once and handles up to kFramesPerTurn requests. False if the client was closed.
  bool readFrom(Client& c) {
    uint8_t buf[65536];
    std::vector<UniqueFd> fds;
    auto n = proto::receiveWithFds(c.sock.get(), buf, fds, true);
    for (auto& fd : fds) c.fds.push_back(std::move(fd));
    if (!n) {
      if (n.code() == EAGAIN || n.code() == EWOULDBLOCK) return true;
      if (n.code() == EPROTO) {
        protocolViolation(c, n.error());
        return flush(c);
      }
      closeClient(c.id, "receive failed: " + n.error().message());
      return false;
    }
    if (*n == 0) {
      // The peer is gone: requests it did not wait for are not worth doing.
      closeClient(c.id, c.in.buffered() > 0 ? "closed in the middle of a request" : "");
      return false;
    }
    c.in.append(std::span<const uint8_t>(buf, *n));
    return handleFrames(c);
  }

  bool handleFrames(Client& c) {
    bool consumed = false;
    for (size_t i = 0; i < kFramesPerTurn && !c.closing && c.out.size() < options.max_pending_replies; ++i) {
      auto frame = c.in.next();
      if (!frame) {
        protocolViolation(c, frame.error());
        break;
      }
      if (!frame->has_value()) break;
      consumed = true;
      handleFrame(c, **frame);
    }
    // The partial-message clock runs only while we wait for the rest of a request; it starts
    // when that request's first bytes are all we have.
    if (c.closing || c.in.buffered() == 0 || c.in.hasFrame()) {
      c.partial_since = {};
    } else if (consumed || c.partial_since == Clock::time_point{}) {
      c.partial_since = Clock::now();
    }
    if (!c.closing) {
      // Fds may only come with frames that announce them; a half-read frame may own one.
      const size_t allowed = c.in.buffered() > 0 ? 1 : 0;
      if (c.fds.size() > allowed) {
        protocolViolation(c, makeError(EPROTO, "an fd arrived that no message announced"));
      }
    }
    return flush(c);
  }

  void handleFrame(Client& c, proto::Frame& f) {
    ++c.stats.requests;
    UniqueFd fd;
    if (f.header.fd_count == 1) {
      if (c.fds.empty()) {
        protocolViolation(c, makeError(EPROTO, "a message announced an fd that did not arrive"));
        return;
      }
      fd = std::move(c.fds.front());
      c.fds.pop_front();
    }
    auto request = proto::decodeRequest(f.header, f.payload);
    const auto type = static_cast<proto::MsgType>(f.header.type);
    if (!request) {
      if (request.code() == EOPNOTSUPP) {
        queue(c, proto::encodeReply(f.header.id, type, errorReply(request.error())));
        return;
      }
      protocolViolation(c, request.error());
      return;
    }
    // Requests in flight per uid: past the limit, answered without being done (the fd that came
    // with it is closed on return, as every fd is).
    const size_t in_flight = replies_of_uid.count(c.creds.uid) ? replies_of_uid[c.creds.uid] : 0;
    const size_t max_requests = options.access.limitsFor(c.creds.uid).requests.value_or(options.max_requests_per_uid);
    if (in_flight >= max_requests) {
      queue(c, proto::encodeReply(f.header.id, type,
                                  refuse(c, "requests", makeError(EBUSY, "uid " + std::to_string(c.creds.uid) + " has " +
                                                                             std::to_string(max_requests) +
                                                                             " requests in flight, the limit per user "
                                                                             "(max_requests_per_uid): read the replies first"))));
      return;
    }
    UniqueFd reply_fd;
    Reply reply = std::visit([&](auto& r) { return handle(c, r, fd, reply_fd); }, *request);
    if (options.trace) traceRequest(c, *request, reply, fd, reply_fd);
    queue(c, proto::encodeReply(f.header.id, type, reply), std::move(reply_fd));
  }

  // The trace's view of one handled request (docs/traces.md): allocations and names.
  void traceRequest(const Client& c, const proto::Request& request, const Reply& reply, const UniqueFd& fd,
                    const UniqueFd& reply_fd) {
    if (const auto* alloc = std::get_if<proto::AllocRequest>(&request)) {
      trace::AllocRecord r;
      r.pid = c.creds.pid;
      r.heap = alloc->heap;
      r.len = alloc->len;
      r.fd_flags = alloc->fd_flags;
      r.heap_flags = alloc->heap_flags;
      r.error = reply.error;
      struct stat st {};
      if (r.error == 0 && reply_fd && ::fstat(reply_fd.get(), &st) == 0) {
        r.dev = static_cast<uint64_t>(st.st_dev);
        r.ino = static_cast<uint64_t>(st.st_ino);
        if (const auto* out = std::get_if<proto::AllocReply>(&reply.body)) r.size = out->buffer.size;
      }
      (void)options.trace->allocated(r);
    } else if (const auto* named = std::get_if<proto::SetNameRequest>(&request)) {
      struct stat st {};
      if (fd && ::fstat(fd.get(), &st) == 0) {
        options.trace->named(c.creds.pid, std::nullopt, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                             named->name, reply.error);
      }
    }
  }

  // ---- requests ----

  Reply handle(Client& c, const proto::HelloRequest& r, UniqueFd&, UniqueFd&) {
    if (!r.client.empty()) c.stats.comm = c.comm + " (" + r.client + ")";
    proto::HelloReply h;
    h.version = proto::kProtocolVersion;
    h.service = options.name;
    h.kernel = registry.kernel().version.str();
    h.page_size = static_cast<uint32_t>(registry.kernel().pageSize());
    h.pid = static_cast<uint32_t>(::getpid());
    return okReply(h);
  }


  Reply handle(Client&, const proto::ListHeapsRequest&, UniqueFd&, UniqueFd&) {
    pollWatcher();
    proto::ListHeapsReply out;
    for (const HeapEntry* e : registry.heaps()) out.heaps.push_back(heapInfoOf(*e));
    return okReply(out);
  }

  Reply handle(Client&, const proto::DescribeHeapsRequest&, UniqueFd&, UniqueFd&) {
    pollWatcher();
    proto::DescribeHeapsReply out;
    for (const HeapEntry* e : registry.heaps()) out.heaps.push_back(heapRecordOf(*e));
    return okReply(out);
  }

  Reply handle(Client&, const proto::BackingsRequest&, UniqueFd&, UniqueFd&) {
    pollWatcher();
    proto::BackingsReply out;
    static const std::unique_ptr<Backing> kMemfd = makeMemfdBacking();
    const Backing& backing = registry.backing() ? *registry.backing() : *kMemfd;
    out.backing = std::string(backingName(backing.kind()));
    out.description = backing.description();
    std::map<uint64_t, std::string> ordered;  // by inode, as stats lists them
    for (const auto& [wd, b] : buffers) ordered[b.file.ino] = std::string(backingName(b.buffer->backing()));
    for (auto& [ino, name] : ordered) out.buffers.push_back({ino, std::move(name)});
    return okReply(out);
  }

  // A refusal: logged once per client and kind, counted, returned.
  Reply refuse(Client& c, const std::string& kind, const Error& e) {
    ++c.stats.refusals;
    if (c.logged.insert(kind).second) log(describe(c) + ": refused: " + errnoName(e.code()) + ": " + e.message());
    return errorReply(e);
  }


  Reply handle(Client& c, const proto::AllocRequest& r, UniqueFd&, UniqueFd& reply_fd) {
    // The order of the real thing: open("/dev/dma_heap/<name>") first (ENOENT, EACCES), then
    // the ioctl's validation, then our quota, then the heap.
    const HeapEntry* heap = registry.find(r.heap);
    if (heap == nullptr) {
      ++c.stats.refusals;
      return errorReply(makeError(ENOENT, "no heap named '" + r.heap + "' (/dev/dma_heap/" + r.heap + " does not exist)"));
    }
    if (auto ok = options.access.checkOpen(heap->node_name, c.creds); !ok) return refuse(c, "access:" + heap->node_name, ok.error());
    // The ioctl's decoding and validation: the front door's, in the kernel's order and errno.
    auto request = dmabuf::validateAlloc(uapi::AllocationData{r.len, r.fd, r.fd_flags, r.heap_flags}, registry.kernel());
    // Buffers released before this request count as released: the client may have just closed
    // one to make room (quota, heap space).
    pollWatcher();
    if (!request) {
      ++c.stats.refusals;
      return errorReply(request.error());
    }
    if (auto quota = options.access.quotaFor(c.creds.uid)) {
      const uint64_t used = uid_use.count(c.creds.uid) ? uid_use[c.creds.uid].bytes : 0;
      const uint64_t len = request->len;
      if (len > *quota || used > *quota - len) {
        return refuse(c, "quota",
                      makeError(EDQUOT, "uid " + std::to_string(c.creds.uid) + " holds " + std::to_string(used) +
                                            " bytes of its " + std::to_string(*quota) + "-byte quota; " +
                                            std::to_string(len) + " more do not fit"));
      }
    }
    const size_t max_buffers = options.access.limitsFor(c.creds.uid).buffers.value_or(options.max_buffers_per_uid);
    if (const size_t held = uid_use.count(c.creds.uid) ? uid_use[c.creds.uid].buffers : 0; held >= max_buffers) {
      return refuse(c, "buffers",
                    makeError(ENOBUFS, "uid " + std::to_string(c.creds.uid) + " holds " + std::to_string(held) +
                                           " buffers, the limit per user (max_buffers_per_uid)"));
    }
    auto buffer = registry.allocate(*heap, request.value());
    if (!buffer) {
      ++c.stats.refusals;
      return errorReply(buffer.error());
    }
    // Buffer::create knows the identity already (its fstat, or the prepared memfd's).
    FileId file{(*buffer)->device(), (*buffer)->inode()};
    if (file.ino == 0) {
      struct stat st {};
      if (::fstat((*buffer)->fd(), &st) != 0) return errorReply(makeError(errno, "fstat of a new buffer failed"));
      file = FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
    }
    // A prepared memfd comes watched already (heap/prepared_pool.h).
    auto wd = watcher.watchOrAdopt((*buffer)->fd(), (*buffer)->releaseSignal(), (*buffer)->loneCount(),
                                   (*buffer)->preparedWatchFor(watcher.id()));
    if (!wd) {
      return refuse(c, "watch", makeError(ENOMEM, "cannot track another buffer: " + wd.error().message()));
    }
    if (watcher.timerFd() >= 0 && !watcher_timer_polled) {
      // Counted releases (real dma-bufs, heap/buffer_watcher.h) are looked for on a timer too.
      if (auto ok = addToEpoll(watcher.timerFd(), kTagWatcher, EPOLLIN); ok) watcher_timer_polled = true;
    }
    LiveBuffer live;
    live.file = file;
    live.client = c.id;
    live.owner_pid = c.creds.pid;
    live.owner_uid = c.creds.uid;
    live.owner_comm = c.comm;
    reply_fd = (*buffer)->releaseFd();
    live.buffer = std::move(buffer.value());
    proto::AllocReply out;
    out.buffer = bufferInfoOf(*live.buffer, live.file.ino);
    const uint64_t size = live.buffer->size();
    by_file[live.file] = *wd;
    buffers.emplace(*wd, std::move(live));
    // Recorded before the fd leaves: a buffer a client may hold is always in the state. If the
    // record cannot be written the buffer is not handed out (its fd closes with the reply).
    if (auto ok = persist(); !ok) {
      by_file.erase(buffers.at(*wd).file);
      buffers.erase(*wd);
      reply_fd.reset();
      return refuse(c, "persist", makeError(ENOMEM, "cannot record the buffer for a restart: " + ok.error().message()));
    }
    auto& use = uid_use[c.creds.uid];
    use.buffers += 1;
    use.bytes += size;
    ++c.stats.allocations;
    c.stats.live_buffers += 1;
    c.stats.live_bytes += size;
    return okReply(out);
  }

  // The live buffer an fd from a client refers to, or EBADF.
  Result<LiveBuffer*> lookup(int fd) {
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) return makeError(EBADF, "not an open file");
    auto it = by_file.find(FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
    if (it == by_file.end()) return makeError(EBADF, "the fd is not a buffer of this service");
    return &buffers.at(it->second);
  }

  Reply handle(Client&, const proto::SetNameRequest& r, UniqueFd& fd, UniqueFd&) {
    auto b = lookup(fd.get());
    if (!b) return errorReply(b.error());
    auto request = dmabuf::validateSetName(r.name);
    if (!request) return errorReply(request.error());
    if (auto ok = (*b)->buffer->setName(request.value()); !ok) return errorReply(ok.error());
    (void)persist();  // a lost name is all a failed write costs
    return okReply(proto::SetNameReply{});
  }

  Reply handle(Client&, const proto::BufferInfoRequest&, UniqueFd& fd, UniqueFd&) {
    auto b = lookup(fd.get());
    if (!b) return errorReply(b.error());
    return okReply(proto::BufferInfoReply{bufferInfoOf(*(*b)->buffer, (*b)->file.ino)});
  }

  Reply handle(Client&, const proto::StatsRequest& r, UniqueFd&, UniqueFd&) { return okReply(stats(r.holders)); }

  proto::StatsReply stats(bool holders) {
    pollWatcher();
    proto::StatsReply s;
    s.service_pid = static_cast<uint32_t>(::getpid());
    s.buffers_freed = buffers_freed;
    s.watch_rechecks = watcher.overflows();
    std::map<std::string, proto::HeapStats> per_heap;
    for (const HeapEntry* e : registry.heaps()) {
      proto::HeapStats h;
      h.heap = heapInfoOf(*e);
      h.used = h.heap.size - h.heap.free;
      per_heap[e->name] = h;
    }
    std::map<FileId, std::vector<ProcessHold>> holds;
    if (holders) {
      std::set<FileId> files;
      for (const auto& [wd, b] : buffers) files.insert(b.file);
      holds = scanHolders(files);
    }
    std::map<uint64_t, proto::BufferStats> ordered;  // by inode, stable output
    for (const auto& [wd, b] : buffers) {
      proto::BufferStats bs;
      bs.buffer = bufferInfoOf(*b.buffer, b.file.ino);
      bs.client = b.client;
      bs.owner_pid = static_cast<uint32_t>(b.owner_pid);
      bs.owner_uid = b.owner_uid;
      bs.owner_comm = b.owner_comm;
      if (auto it = holds.find(b.file); it != holds.end()) {
        for (const ProcessHold& p : it->second) {
          bs.holders.push_back({static_cast<uint32_t>(p.pid), p.comm, p.fds, p.mappings});
        }
      }
      if (auto h = per_heap.find(b.buffer->heapName()); h != per_heap.end()) {
        h->second.buffers += 1;
        h->second.buffer_bytes += b.buffer->size();
      }
      ordered[b.file.ino] = std::move(bs);
    }
    for (const HeapEntry* e : registry.heaps()) s.heaps.push_back(per_heap[e->name]);
    for (auto& [ino, bs] : ordered) s.buffers.push_back(std::move(bs));
    for (const auto& [id, c] : clients) s.clients.push_back(c->stats);
    std::set<uint32_t> uids;
    for (const auto& [uid, use] : uid_use) uids.insert(uid);
    for (const auto& [uid, q] : options.access.quotas) uids.insert(uid);
    for (uint32_t uid : uids) {
      proto::UidStats u;
      u.uid = uid;
      if (auto it = uid_use.find(uid); it != uid_use.end()) {
        u.buffers = it->second.buffers;
        u.bytes = it->second.bytes;
      }
      if (auto q = options.access.quotaFor(uid)) {
        u.has_quota = true;
        u.quota = *q;
      }
      s.uids.push_back(u);
    }
    return s;
  }

  // ---- the loop ----

  int timeoutMs(bool backlog) const {
    if (backlog) return 0;
    auto next = Clock::time_point::max();
    for (const auto& [id, c] : clients) {
      if (c->partial_since != Clock::time_point{}) next = std::min(next, c->partial_since + options.partial_message_timeout);
      if (!c->out.empty()) next = std::min(next, c->stall_since + options.write_stall_timeout);
    }
    if (releases_unrecorded_since != Clock::time_point{}) next = std::min(next, releases_unrecorded_since + kReleaseRecordDelay);
    if (next == Clock::time_point::max()) return 1000;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 1000));
  }

  void expireDeadlines() {
    const auto now = Clock::now();
    std::vector<std::pair<uint64_t, std::string>> expired;
    for (const auto& [id, c] : clients) {
      if (c->partial_since != Clock::time_point{} && now - c->partial_since >= options.partial_message_timeout) {
        expired.emplace_back(id, "a request stayed incomplete for " +
                                     std::to_string(options.partial_message_timeout.count()) + " ms");
      } else if (!c->out.empty() && now - c->stall_since >= options.write_stall_timeout) {
        expired.emplace_back(id, "replies stayed unread for " + std::to_string(options.write_stall_timeout.count()) + " ms");
      }
    }
    for (const auto& [id, why] : expired) closeClient(id, why);
  }

  Status run() {
    std::vector<epoll_event> events(64);
    bool backlog = false;
    while (!stop_requested.load()) {
      const int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeoutMs(backlog));
      if (n < 0 && errno != EINTR) return makeError(errno, std::string("epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        const uint32_t ev = events[i].events;
        if (tag == kTagListener) {
          accept();
        } else if (tag == kTagWatcher) {
          pollWatcher();
        } else if (tag == kTagStore) {
          if (store && (ev & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))) storeLost();
        } else if (tag == kTagWake) {
          uint64_t v;
          [[maybe_unused]] auto r = ::read(wake.get(), &v, sizeof v);
        } else if (tag == kTagSignal) {
          signalfd_siginfo si;
          while (::read(signals.get(), &si, sizeof si) == sizeof si) {
            log(std::string("received ") + ::strsignal(static_cast<int>(si.ssi_signo)) + ", shutting down");
            stop_requested = true;
          }
        } else {
          auto it = clients.find(tag);
          if (it == clients.end()) continue;
          Client& c = *it->second;
          if ((ev & EPOLLOUT) && !flush(c)) continue;
          if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
            // Whole requests still buffered are handled (the backlog below) before more is read,
            // so a client that sends faster than it is served does not grow its input buffer.
            if (c.in.hasFrame() && !(ev & (EPOLLHUP | EPOLLERR))) continue;
            if (c.closing || c.out.size() >= options.max_pending_replies) {
              // Not reading it now; a hang-up (or a peer that will send nothing more, which
              // level-triggered epoll would report forever) ends it.
              if (ev & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) closeClient(c.id, "");
              continue;
            }
            readFrom(c);
          }
        }
      }
      // Clients with whole requests still buffered get their next turn without new input.
      backlog = false;
      std::vector<uint64_t> ids;
      for (const auto& [id, c] : clients) ids.push_back(id);
      for (uint64_t id : ids) {
        auto it = clients.find(id);
        if (it == clients.end()) continue;
        Client& c = *it->second;
        if (c.closing || c.out.size() >= options.max_pending_replies || c.in.buffered() < proto::kHeaderSize) continue;
        if (!handleFrames(c)) continue;
        auto again = clients.find(id);
        if (again != clients.end() && again->second->in.buffered() >= proto::kHeaderSize &&
            again->second->out.size() < options.max_pending_replies && !again->second->closing) {
          backlog = true;
        }
      }
      expireDeadlines();
      recordReleasesIfDue(false);
    }
    recordReleasesIfDue(true);  // a clean stop leaves an exact record
    shutdown();
    return {};
  }

  void shutdown() {
    std::vector<uint64_t> ids;
    for (const auto& [id, c] : clients) ids.push_back(id);
    for (uint64_t id : ids) closeClient(id, "");
    if (listener) {
      ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, listener.get(), nullptr);
      listener.reset();
    }
    if (!bound_path.empty()) {
      ::unlink(bound_path.c_str());
      bound_path.clear();
    }
  }
};

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() {
  if (!impl_) return;
  impl_->shutdown();
  impl_->watchPreparedWith(/*off=*/true);
}

Result<std::unique_ptr<Service>> Service::create(const HeapRegistry& registry, ServiceOptions options) {
  auto watcher = BufferWatcher::create();
  if (!watcher) return watcher.error();
  auto impl = std::make_unique<Impl>(registry, std::move(options), std::move(watcher.value()));
  impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll) return makeError(errno, std::string("epoll_create1: ") + std::strerror(errno));
  impl->wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!impl->wake) return makeError(errno, std::string("eventfd: ") + std::strerror(errno));
  if (auto ok = impl->addToEpoll(impl->watcher.fd(), kTagWatcher, EPOLLIN); !ok) return ok.error();
  if (auto ok = impl->addToEpoll(impl->wake.get(), kTagWake, EPOLLIN); !ok) return ok.error();
  impl->watchPreparedWith();
  if (impl->options.handle_signals) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    impl->signals.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!impl->signals) return makeError(errno, std::string("signalfd: ") + std::strerror(errno));
    if (auto ok = impl->addToEpoll(impl->signals.get(), kTagSignal, EPOLLIN); !ok) return ok.error();
  }
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Status Service::listen(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return makeError(ENAMETOOLONG, "socket path must be 1 to " + std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return makeError(EEXIST, path + " exists and is not a socket");
    if (proto::connectUnix(path)) return makeError(EADDRINUSE, "a service already answers at " + path);
    ::unlink(path.c_str());  // stale: its service is gone
  }
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) return makeError(errno, std::string("socket: ") + std::strerror(errno));
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return makeError(errno, "bind " + path + ": " + std::strerror(errno));
  }
  impl_->bound_path = path;
  ::chmod(path.c_str(), 0666);
  if (::listen(sock.get(), 128) != 0) return makeError(errno, std::string("listen: ") + std::strerror(errno));
  return adoptListener(std::move(sock));
}

Status Service::adoptListener(UniqueFd listener) {
  if (!listener) return makeError(EBADF, "no listening socket");
  const int flags = ::fcntl(listener.get(), F_GETFL);
  if (flags < 0 || ::fcntl(listener.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return makeError(errno, std::string("fcntl: ") + std::strerror(errno));
  }
  ::fcntl(listener.get(), F_SETFD, FD_CLOEXEC);
  impl_->listener = std::move(listener);
  return impl_->addToEpoll(impl_->listener.get(), kTagListener, EPOLLIN);
}

Status Service::run() {
  return impl_->run();
}

void Service::stop() {
  impl_->stop_requested = true;
  const uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(impl_->wake.get(), &one, sizeof one);
}

proto::StatsReply Service::stats(bool holders) { return impl_->stats(holders); }

size_t Service::liveBuffers() const { return impl_->buffers.size(); }

void Service::setStoreReconnect(std::function<Result<std::unique_ptr<FdStore>>()> reconnect) {
  impl_->reconnect_store = std::move(reconnect);
}

uint64_t Service::stateWrites() const { return impl_->slots ? impl_->slots->writes() : 0; }
uint64_t Service::storeMessages() const { return impl_->store ? impl_->store->messages() : 0; }

std::string boardFingerprint(const HeapRegistry& registry) {
  std::string f = "kernel " + registry.kernel().version.str() + "; page " + std::to_string(registry.kernel().pageSize());
  for (const HeapEntry* e : registry.heaps()) {
    f += "; " + e->name + " " + e->heap->descriptor().kind + " " + std::to_string(e->heap->usage().size);
  }
  return f;
}

// The restart: docs/service-restart.md says what is kept, and why each refusal is one.
Result<Service::RestoreReport> Service::keepState(std::unique_ptr<FdStore> store, std::vector<PassedFd> passed) {
  Impl& m = *impl_;
  if (!m.buffers.empty() || m.slots) return makeError(EBUSY, "keepState must come before any allocation");
  RestoreReport report;
  UniqueFd inotify, slot_a, slot_b;
  for (PassedFd& p : passed) {
    if (p.name == "inotify") {
      inotify = std::move(p.fd);
    } else if (p.name == "state-a") {
      slot_a = std::move(p.fd);
    } else if (p.name == "state-b") {
      slot_b = std::move(p.fd);
    } else {
      report.warnings.push_back("closing a stored fd of unknown name '" + p.name + "'");
    }
  }
  const std::string board = boardFingerprint(m.registry);
  if (!inotify && !slot_a && !slot_b) {
    // Fresh: store the watcher's instance and two empty slots, then write the first record.
    auto slots = StateSlots::create();
    if (!slots) return slots.error();
    if (auto ok = store->store("inotify", m.watcher.fd()); !ok) return ok.error();
    if (auto ok = store->store("state-a", slots->fd(0)); !ok) return ok.error();
    if (auto ok = store->store("state-b", slots->fd(1)); !ok) return ok.error();
    m.slots.emplace(std::move(slots.value()));
    m.store = std::move(store);
    m.board = board;
    if (m.store->connection() >= 0) (void)m.addToEpoll(m.store->connection(), kTagStore, EPOLLRDHUP);
    if (auto ok = m.persist(); !ok) return ok.error();
    return report;
  }
  report.fresh = false;
  if (!inotify) {
    return makeError(EBADMSG, "the store holds a restart state but not the inotify instance that tracks its buffers: "
                              "which of them are still held cannot be known");
  }
  const bool had_a = slot_a.valid(), had_b = slot_b.valid();
  auto slots = StateSlots::adopt(std::move(slot_a), std::move(slot_b));
  if (!slots) return slots.error();
  bool empty = false;
  auto live = BufferWatcher::kernelWatches(inotify.get());
  if (!live) return live.error();
  auto state = slots->load(&report.warnings, &empty);
  if (!state && live->empty()) {
    // Nothing is held any more, so nothing can be placed on a held page: start afresh.
    report.warnings.push_back("the stored state is unusable but no buffer is held any more; starting empty (" +
                              state.error().message() + ")");
    state = PersistedState{};
    empty = true;
  }
  if (!state) return state.error();
  if (!empty && state->board != board) {
    return makeError(EINVAL, "the stored state is of another board (" + state->board + "; this service: " + board +
                                 "): its placements mean nothing here");
  }
  if (!empty && state->page_size != m.registry.kernel().pageSize()) {
    return makeError(EINVAL, "the stored state has " + std::to_string(state->page_size) + "-byte pages");
  }
  std::map<int, const PersistedBuffer*> by_watch;
  for (const PersistedBuffer& b : state->buffers) by_watch[b.watch] = &b;
  std::map<int, BufferWatcher::KernelWatch> alive;
  for (const auto& w : *live) {
    auto it = by_watch.find(w.wd);
    if (it == by_watch.end() || it->second->ino != w.ino || it->second->dev != w.dev) {
      return makeError(EBADMSG, "a buffer is still held (watch " + std::to_string(w.wd) + ", inode " + std::to_string(w.ino) +
                                    ") that the stored state does not describe: its pages cannot be known");
    }
    alive[w.wd] = w;
  }
  // Take back the pages of every buffer still held; any failure undoes it all (the Buffers
  // built so far give their pages back when `taken` goes).
  std::vector<std::pair<const PersistedBuffer*, std::unique_ptr<Buffer>>> taken;
  for (const PersistedBuffer& b : state->buffers) {
    if (!alive.count(b.watch)) {
      ++report.released;
      continue;
    }
    const HeapEntry* heap = m.registry.find(b.heap);
    if (heap == nullptr) return makeError(EINVAL, "a held buffer (inode " + std::to_string(b.ino) + ") is of heap '" + b.heap + "', which this service does not have");
    auto memory = heap->heap->adopt(b.segments, b.size);
    if (!memory) {
      return makeError(memory.code(), "cannot take back the pages of held buffer inode " + std::to_string(b.ino) + " (" +
                                          b.heap + ", " + std::to_string(b.size) + " bytes): " + memory.error().message());
    }
    Buffer::Options opts;
    opts.heap_name = heap->name;
    opts.map_error_errno = heap->heap->mapErrorErrno();
    taken.emplace_back(&b, Buffer::adopt(std::move(memory.value()), b.size, m.registry.kernel(), opts, b.name, b.ino));
  }
  // Committed: from here nothing fails.
  std::vector<int> wds;
  for (auto& [p, buffer] : taken) {
    LiveBuffer lb;
    lb.buffer = std::move(buffer);
    lb.file = FileId{p->dev, p->ino};
    lb.client = p->client;
    lb.owner_pid = p->owner_pid;
    lb.owner_uid = p->owner_uid;
    lb.owner_comm = p->owner_comm;
    auto& use = m.uid_use[p->owner_uid];
    use.buffers += 1;
    use.bytes += p->size;
    m.by_file[lb.file] = p->watch;
    wds.push_back(p->watch);
    m.buffers.emplace(p->watch, std::move(lb));
  }
  m.next_client_id = std::max(m.next_client_id, state->next_client_id);
  m.buffers_freed = state->buffers_freed + report.released;
  report.restored = taken.size();
  ::epoll_ctl(m.epoll.get(), EPOLL_CTL_DEL, m.watcher.fd(), nullptr);
  m.watcher = BufferWatcher::adopt(std::move(inotify), wds);
  m.watchPreparedWith();  // the adopted instance, with its own id: earlier prepared watches are not ours
  if (auto ok = m.addToEpoll(m.watcher.fd(), kTagWatcher, EPOLLIN); !ok) return ok.error();
  m.slots.emplace(std::move(slots.value()));
  m.store = std::move(store);
  m.board = board;
  if (m.store->connection() >= 0) (void)m.addToEpoll(m.store->connection(), kTagStore, EPOLLRDHUP);
  for (int i = 0; i < 2; ++i) {
    if (i == 0 ? had_a : had_b) continue;
    if (auto ok = m.store->store(i == 0 ? "state-a" : "state-b", m.slots->fd(i)); !ok) {
      report.warnings.push_back(ok.error().message());
    }
  }
  if (auto ok = m.persist(); !ok) report.warnings.push_back(ok.error().message());
  // Events queued while no service ran (and any since) are read on the first loop turn.
  return report;
}

UniqueFd socketFromSystemd() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr) return UniqueFd();
  const bool ours = std::strtol(pid, nullptr, 10) == ::getpid();
  const long count = std::strtol(fds, nullptr, 10);
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!ours || count < 1) return UniqueFd();
  constexpr int kFirst = 3;  // SD_LISTEN_FDS_START
  for (long i = 1; i < count; ++i) ::close(kFirst + static_cast<int>(i));  // we use one socket
  return UniqueFd(kFirst);
}

}  // namespace dmaheap::service
