#!/usr/bin/env python3
"""The restart scenario of tests/suites/service-restart.sh (docs/service-restart.md).

  restart_scenario.py systemd|keeper BUILD DTB UNIT

8 client processes hold buffers of the CMA and system heaps (several sizes, some named), the
service is SIGKILLed and started again, a ninth client allocates until both heaps are full: no
buffer of it may share a page with a held one; then every holder exits and each heap's free
bytes must come back exactly to the figure before they allocated.

"systemd": dmaheapd runs under a stand-in for systemd's service manager (class Manager): a
notify socket ($NOTIFY_SOCKET, SO_PASSCRED, messages accepted from the main pid only, as
NotifyAccess=main), the listening socket passed as LISTEN_FDS with LISTEN_FDNAMES, FDSTORE=1 /
FDNAME= / FDSTOREREMOVE=1 handled as sd_notify(3) documents, at most FileDescriptorStoreMax=
(read from the unit) fds kept, and on restart every stored fd passed back after the listener.
"keeper": dmaheapd runs alone (no NOTIFY_SOCKET) and keeps its fds in its keeper.
"""
import array
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

MODE, BUILD, DTB, UNIT = sys.argv[1:5]
DMAHEAPD = os.path.join(BUILD, "dmaheapd")
DMAHEAP = os.path.join(BUILD, "dmaheap")
HOLDER = os.path.join(BUILD, "tests", "service", "service_restart_holder")
WORK = os.environ.get("RESTART_WORK") or os.path.join("/tmp", "dmaheap-restart-%d" % os.getpid())
os.makedirs(WORK, exist_ok=True)
SOCK = os.path.join(WORK, "dmaheap.sock")
CMA, SYSTEM = "default_cma_region", "system"
KiB, MiB = 1024, 1024 * 1024
failures = []


def check(cond, what):
    print(("ok     " if cond else "FAILED ") + what, flush=True)
    if not cond:
        failures.append(what)


def wait_until(pred, what, bound=60):
    # Waits for another process, with a generous bound so a bug fails instead of hanging.
    end = time.monotonic() + bound
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    check(False, "waiting for " + what)
    return False


class Manager:
    """The stand-in for systemd's manager: notify socket, socket activation, fd store."""

    def __init__(self, store_max):
        self.store_max = store_max
        self.notify_path = os.path.join(WORK, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(SOCK)
        os.chmod(SOCK, 0o666)
        self.listener.listen(128)
        self.store = []  # (name, fd), in the order stored
        self.pid = None
        self.ready = False
        self.fdstore_messages = 0  # FDSTORE=1 messages of the current main process
        self.log = open(os.path.join(WORK, "manager.log"), "a")

    def start(self, args):
        fds = [self.listener.fileno()] + [fd for _, fd in self.store]
        names = ["dmaheapd.socket"] + [n for n, _ in self.store]
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, LISTEN_FDS=str(len(fds)),
                   LISTEN_FDNAMES=":".join(names))
        err = open(os.path.join(WORK, "dmaheapd.log"), "a")
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(err.fileno(), 2)
                high = [os.dup(fd) for fd in fds]  # out of the way of 3, 4, ...
                for i, fd in enumerate(high):
                    os.dup2(fd, 3 + i)
                os.closerange(3 + len(fds), 65536)
                env["LISTEN_PID"] = str(os.getpid())
                os.execve(DMAHEAPD, [DMAHEAPD] + args, env)
            finally:
                os._exit(127)
        self.pid = pid
        self.ready = False
        self.fdstore_messages = 0
        self.log.write("started %d with %s\n" % (pid, names))
        self.log.flush()

    def pump(self, timeout):
        r, _, _ = select.select([self.notify], [], [], timeout)
        if not r:
            return
        fdsize = array.array("i").itemsize
        msg, anc, _, _ = self.notify.recvmsg(4096, socket.CMSG_SPACE(253 * fdsize) + socket.CMSG_SPACE(12))
        fds, sender = [], None
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(data[: len(data) - len(data) % fdsize])
                fds.extend(a)
            elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                sender = array.array("i", data[:12])[0]
        fields = dict(line.split("=", 1) for line in msg.decode().split("\n") if "=" in line)
        self.log.write("from %s: %r with %d fds\n" % (sender, fields, len(fds)))
        self.log.flush()
        if sender != self.pid:  # NotifyAccess=main
            for fd in fds:
                os.close(fd)
            return
        if fields.get("READY") == "1":
            self.ready = True
        if fields.get("FDSTORE") == "1":
            self.fdstore_messages += 1
            name = fields.get("FDNAME", "stored")
            for fd in fds:
                if len(self.store) >= self.store_max or ":" in name or len(name) > 255:
                    os.close(fd)
                else:
                    self.store.append((name, fd))
            fds = []
        if fields.get("FDSTOREREMOVE") == "1" and "FDNAME" in fields:
            for n, fd in [e for e in self.store if e[0] == fields["FDNAME"]]:
                os.close(fd)
            self.store = [e for e in self.store if e[0] != fields["FDNAME"]]
        for fd in fds:  # fds not for the store are closed, as the manager does
            os.close(fd)

    def wait_ready(self):
        end = time.monotonic() + 60
        while not self.ready and time.monotonic() < end:
            self.pump(0.05)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done == self.pid:
                check(False, "dmaheapd exited (status %d) before READY=1 (see %s/dmaheapd.log)" % (status, WORK))
                sys.exit(1)
        check(self.ready, "dmaheapd sent READY=1")

    def drain(self):
        self.pump(0)
        while select.select([self.notify], [], [], 0)[0]:
            self.pump(0)


def stats():
    out = subprocess.run([DMAHEAP, "stats", "--json", "--no-holders", "--socket", SOCK], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def heap_free(s):
    return {h["name"]: h["free"] for h in s["heaps"]}


def pages(buffers):
    out = set()
    for b in buffers:
        for base, size in b["segments"]:
            out.update(range(base >> 12, (base + size) >> 12))
    return out


def segs(b):
    return [list(x) if isinstance(x, (list, tuple)) else [x["base"], x["size"]] for x in b["segments"]]


class Holder:
    def __init__(self, specs):
        self.p = subprocess.Popen([HOLDER, SOCK] + specs, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.buffers = []
        for line in self.p.stdout:
            line = line.strip()
            if line == "ready":
                break
            self.buffers.append(json.loads(line))
        self.ok = self.p.poll() is None

    def ask(self, command):
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def exit(self):
        self.p.stdin.write("exit\n")
        self.p.stdin.close()
        return self.p.wait()


def start_service(manager, first):
    args = ["--dtb", DTB]
    if manager:
        manager.start(args)
        manager.wait_ready()
        return manager.pid
    p = subprocess.Popen([DMAHEAPD, "--socket", SOCK] + args, stderr=open(os.path.join(WORK, "dmaheapd.log"), "a"))
    wait_until(lambda: subprocess.run([DMAHEAP, "stats", "--json", "--no-holders", "--socket", SOCK],
                                      capture_output=True).returncode == 0, "dmaheapd to answer")
    return p.pid


def log_text():
    with open(os.path.join(WORK, "dmaheapd.log")) as f:
        return f.read()


def main():
    manager = None
    if MODE == "systemd":
        store_max = None
        for line in open(UNIT):
            if line.startswith("FileDescriptorStoreMax="):
                store_max = int(line.split("=", 1)[1])
        check(store_max is not None, "the unit sets FileDescriptorStoreMax= (%s)" % store_max)
        manager = Manager(store_max or 0)
    pid = start_service(manager, True)
    before = heap_free(stats())
    # 8 holders: CMA and system buffers of several sizes, some named.
    holders = []
    for i in range(8):
        specs = ["%s:%d:cam-%d" % (CMA, (1 + i % 3) * MiB, i), "%s:%d" % (CMA, 64 * KiB * (1 + i)),
                 "%s:%d:sys-%d" % (SYSTEM, 4 * KiB * (1 + i), i), "%s:%d" % (SYSTEM, MiB + 68 * KiB)]
        if i % 2:
            specs.append("%s:%d:big-%d" % (SYSTEM, 3 * MiB, i))
        holders.append(Holder(specs))
    check(all(h.ok for h in holders), "8 holders allocated their buffers")
    held = [b for h in holders for b in h.buffers]
    held_bytes = {CMA: 0, SYSTEM: 0}
    for b in held:
        held_bytes[b["heap"]] += b["size"]
    s1 = stats()
    after_alloc = heap_free(s1)
    check(after_alloc[CMA] == before[CMA] - held_bytes[CMA] and after_alloc[SYSTEM] == before[SYSTEM] - held_bytes[SYSTEM],
          "free bytes fell by exactly what the holders hold (cma %d, system %d)" % (held_bytes[CMA], held_bytes[SYSTEM]))
    if manager:
        manager.drain()
        check(len(manager.store) == 3 and manager.fdstore_messages == 3,
              "the first instance stored 3 fds in 3 FDSTORE messages for %d buffers (store: %s)" %
              (len(held), [n for n, _ in manager.store]))
        sizes = {n: os.fstat(fd).st_size for n, fd in manager.store if n.startswith("state-")}
        print("       state record for %d buffers: %d bytes (slots %s)" % (len(held), max(sizes.values()), sizes))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0) if manager else None
    if not manager:
        wait_until(lambda: not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                   "the killed dmaheapd to be gone")
    pid = start_service(manager, False)
    text = log_text()
    check("%d buffers still held taken back, 0 released" % len(held) in text,
          "the restarted dmaheapd took back all %d held buffers (log)" % len(held))
    if manager:
        manager.drain()
        check(manager.fdstore_messages == 0, "the restarted instance sent no FDSTORE message")
    s2 = stats()
    check(heap_free(s2) == after_alloc, "after the restart each heap's free bytes are those before it (%s)" % heap_free(s2))
    known = {b["inode"]: b for b in s2["buffers"]}
    same = all(b["ino"] in known and segs(known[b["ino"]]) == b["segments"] and known[b["ino"]]["name"] == b["name"]
               for b in held)
    check(same and len(known) == len(held), "the restarted service lists every held buffer with its placement and name")
    answers = [h.ask("check") for h in holders]
    check(all(a == "check ok" for a in answers), "every holder's buffers are known to the new service (%s)" %
          sorted(set(answers)))
    # Fill both heaps: large buffers first, then the holes.
    filler = Holder(["%s:%d:*" % (CMA, MiB), "%s:%d:*" % (CMA, 64 * KiB), "%s:%d:*" % (CMA, 4 * KiB),
                     "%s:%d:*" % (SYSTEM, MiB), "%s:%d:*" % (SYSTEM, 64 * KiB), "%s:%d:*" % (SYSTEM, 4 * KiB)])
    full = heap_free(stats())
    check(filler.ok and full[CMA] == 0 and full[SYSTEM] == 0,
          "a ninth client filled both heaps (%d buffers; free now %s)" % (len(filler.buffers), full))
    overlap = pages(held) & pages(filler.buffers)
    check(not overlap, "zero pages shared between the %d new buffers and the %d held ones (%d shared)" %
          (len(filler.buffers), len(held), len(overlap)))
    check(filler.exit() == 0, "the filler exits")
    codes = [h.exit() for h in holders]
    check(codes == [0] * 8, "every holder's buffers kept their contents across the restart (exit %s)" % codes)
    wait_until(lambda: heap_free(stats()) == before, "the heaps' free bytes to come back")
    final = heap_free(stats())
    check(final == before, "after the holders exit the free bytes are exactly those before they allocated (%s)" % final)
    if manager:
        manager.drain()
        check(manager.fdstore_messages == 0, "the restarted instance sent no FDSTORE message for %d allocations and %d frees" %
              (len(filler.buffers), len(held) + len(filler.buffers)))
        pid = damaged_state(manager, pid, before)
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    else:
        pid = keeper_killed(pid, before)
        os.kill(pid, signal.SIGTERM)
        keeper = SOCK + ".keeper"
        wait_until(lambda: not os.path.exists(keeper), "the keeper to end once nothing is held")
        check(not os.path.exists(keeper), "the keeper ended once no buffer was held and no service ran")
    print("%s: %d checks failed" % (MODE, len(failures)))
    sys.exit(1 if failures else 0)


def two_holders():
    hs = [Holder(["%s:%d:again-%d" % (CMA, 2 * MiB, i), "%s:%d" % (SYSTEM, 64 * KiB)]) for i in range(2)]
    check(all(h.ok for h in hs), "2 more holders allocated")
    return hs


def damaged_state(manager, pid, before):
    """Both state slots damaged while buffers are held: the service must refuse to start (and so
    never hand out their pages); once the holders are gone it starts empty."""
    hs = two_holders()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    for name, fd in manager.store:
        if name.startswith("state-"):
            os.pwrite(fd, b"garbage!", 0)
    manager.start(["--dtb", DTB])
    _, status = os.waitpid(manager.pid, 0)
    manager.drain()
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1 and not manager.ready,
          "with both state slots damaged and buffers held, dmaheapd refuses to start (exit %d)" % (status >> 8))
    check("refusing to start: EBADMSG" in log_text(), "the refusal names the damage (EBADMSG)")
    check(len(manager.store) == 3, "the refused start left the store as it was")
    check([h.exit() for h in hs] == [0, 0], "the 2 holders exit")
    manager.start(["--dtb", DTB])
    manager.wait_ready()
    check("no buffer is held any more; starting empty" in log_text(),
          "with the holders gone the next start succeeds, empty (nothing can be overlapped)")
    check(heap_free(stats()) == before, "and every heap is whole")
    return manager.pid


def keeper_pid():
    want = (SOCK + ".keeper").encode()
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                args = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            except OSError:
                continue
            if b"--store-keeper" in args and want in args:
                return int(p)
    return None


def keeper_killed(pid, before):
    """The keeper killed while the service runs: the service gives its fds to a new keeper, so a
    later restart still knows the held buffers."""
    hs = two_holders()
    first = keeper_pid()
    check(first is not None, "a keeper runs")
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: "stored the restart state again" in log_text(), "the service to store its fds in a new keeper")
    check(keeper_pid() not in (None, first), "the service noticed and stored its fds in a new keeper")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z",
               "the killed dmaheapd to be gone")
    pid = start_service(None, False)
    check("4 buffers still held taken back" in log_text(), "the restart after that took back the 4 held buffers")
    check([h.ask("check") for h in hs] == ["check ok"] * 2, "their names and placements are known")
    check([h.exit() for h in hs] == [0, 0], "the 2 holders exit")
    wait_until(lambda: heap_free(stats()) == before, "the heaps to be whole")
    check(heap_free(stats()) == before, "every heap is whole again")
    return pid


main()
