// Service: dmaheapd's server. Owns no heaps itself; serves a HeapRegistry's heaps to every
// process that connects to its Unix stream socket, hands buffers out as real memfd file
// descriptors (SCM_RIGHTS), and gives a buffer's memory back to its heap exactly when the last
// fd and the last mapping of it, in any process, are gone (BufferWatcher).
//
// Model: one thread runs a level-triggered epoll loop over the listening socket, the clients,
// the inotify fd, a wake-up eventfd and (optionally) a signalfd. Every socket is non-blocking.
// Each turn a client gets at most one read and kFramesPerTurn requests handled, so no client can
// starve the others; a client with kMaxPendingReplies unsent replies is not read until it
// drains them. The service keeps no reference to a buffer it handed out: the only one it holds
// is while the reply carrying the fd waits to be sent.
//
// Failure containment: a protocol violation (bad magic or version, oversized or malformed frame,
// fds that no frame announced), a half-sent request older than partial_message_timeout, or
// replies unsent for write_stall_timeout close that client's connection — after a protocol-error
// frame saying why, when it can — and nothing else. Requests that are merely refused (the
// kernel's errno, EACCES, EDQUOT, ENOENT for an unknown heap, EOPNOTSUPP for an unknown request
// type) get an error reply and the connection goes on.
//
// Thread safety: run() on one thread; stop() from any thread or a signal handler. stats() only
// from the loop's thread or while run() is not running.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"
#include "heap/registry.h"
#include "protocol/messages.h"
#include "service/access.h"
#include "service/fdstore.h"
#include "trace/trace_log.h"

namespace dmaheap::service {

struct ServiceOptions {
  AccessConfig access = AccessConfig::defaults();
  // A request that started arriving but is not complete after this long closes the connection.
  std::chrono::milliseconds partial_message_timeout{10000};
  // Replies waiting this long without the client reading any of them close the connection.
  std::chrono::milliseconds write_stall_timeout{10000};
  // Connections the service keeps at once, in all and per uid, so that one user holding many
  // idle connections cannot lock the others out. A connection past either limit is told why in
  // a protocol-error frame (EUSERS per uid, EMFILE in all) and closed; the refused client's
  // ServiceClient call then fails with that errno and message.
  size_t max_clients = 1024;
  size_t max_clients_per_uid = 64;
  // What one uid may have at once besides connections, so that one user cannot starve another
  // (an access-config `limit` line overrides them per uid; bytes are the config's `quota`,
  // EDQUOT): requests in flight — replies queued for its connections and not yet taken by them —
  // and buffers held (each costs the service an inotify watch, a budget all users share). A
  // request past either is refused with its own errno and a message naming the limit: EBUSY
  // (max_requests_per_uid), ENOBUFS (max_buffers_per_uid); the connection goes on.
  size_t max_requests_per_uid = 256;
  size_t max_buffers_per_uid = 4096;
  // Unsent replies after which the client's requests are no longer read.
  size_t max_pending_replies = 64;
  // Unsent reply bytes after which the client is disconnected.
  size_t max_pending_bytes = 32u << 20;
  // Stop run() on SIGTERM/SIGINT. The caller must block both signals in every thread first.
  bool handle_signals = false;
  // Every Alloc and SetName request and every release goes here (docs/traces.md); a log made
  // with trace::Releases::kReported that outlives the service. None when null.
  trace::TraceLog* trace = nullptr;
  // Where log lines go; stderr ("dmaheapd: ...") when empty.
  std::function<void(const std::string&)> log;
  std::string name = "dmaheapd 0.1.0";
};

class Service {
 public:
  static constexpr size_t kFramesPerTurn = 16;

  // `registry` must outlive the service. Errors: inotify/epoll/eventfd creation errno.
  static Result<std::unique_ptr<Service>> create(const HeapRegistry& registry, ServiceOptions options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Creates the socket at `path` (mode 0666; heap modes decide who may allocate) and listens.
  // A stale socket file nobody answers on is replaced; EADDRINUSE if a service answers there.
  // The file is removed when run() returns.
  Status listen(const std::string& path);
  // Serves on an already listening socket (systemd socket activation). Not unlinked at exit.
  Status adoptListener(UniqueFd listener);

  // Serves until stop() or a handled signal, then closes every client and the listener.
  // Buffers already handed out stay valid for their holders.
  Status run();
  // Makes run() return soon. Thread-safe and async-signal-safe.
  void stop();

  // The accounting the Stats request returns. `holders` scans /proc.
  proto::StatsReply stats(bool holders);

  // Live buffers handed out and not yet released by every holder.
  size_t liveBuffers() const;

  // Keeps what the service knows about its live buffers in `store` (the service manager's fd
  // store, or the fallback's keeper) so that a restarted instance knows every buffer still held
  // (docs/service-restart.md). Call before run() and before any allocation. `passed` are the
  // fds an earlier run stored ("inotify", "state-a", "state-b"; others are closed and logged):
  // the service continues on the stored inotify instance, and the heaps take back exactly the
  // pages of every buffer still held; buffers released meanwhile are counted as freed. A fresh
  // start stores the three fds (three FDSTORE messages); later allocations and releases rewrite
  // the state memfds in place and send nothing. Refuses (and keeps nothing) with EBADMSG when no
  // stored state can be trusted while a buffer is still held (with none held it starts empty,
  // with a warning), or a held buffer is not in it, EINVAL when the board changed,
  // EBUSY/EINVAL/EOPNOTSUPP when a heap cannot take a held buffer's pages back: the service must
  // not start then, or it could hand out pages a holder still uses.
  struct RestoreReport {
    size_t restored = 0;        // buffers still held, taken back
    size_t released = 0;        // buffers in the state whose holders were gone
    bool fresh = true;          // nothing was stored before
    std::vector<std::string> warnings;
  };
  Result<RestoreReport> keepState(std::unique_ptr<FdStore> store, std::vector<PassedFd> passed);
  // For a store over a connection (the keeper): when it hangs up while the service runs, a new
  // one from `reconnect` receives the inotify instance and both slots again.
  void setStoreReconnect(std::function<Result<std::unique_ptr<FdStore>>()> reconnect);
  // State records written and FDSTORE messages sent since keepState.
  uint64_t stateWrites() const;
  uint64_t storeMessages() const;

 private:
  struct Client;
  struct LiveBuffer;
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Socket activation: the listening socket systemd passed (LISTEN_PID is us, LISTEN_FDS >= 1,
// fd 3), or an invalid UniqueFd. Clears the LISTEN_* variables as sd_listen_fds(1) does.
UniqueFd socketFromSystemd();

// The board as a restart state records it: kernel, page size, every heap's name, kind and size.
// A restarted service with another board refuses the stored state (docs/service-restart.md).
std::string boardFingerprint(const HeapRegistry& registry);

}  // namespace dmaheap::service
