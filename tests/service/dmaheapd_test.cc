// The dmaheapd binary: listens, serves, reports through `dmaheap stats --json`, accepts a
// socket from systemd, and shuts down cleanly on SIGTERM leaving handed-out buffers valid.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "service_fixture.h"

#if defined(DMAHEAPD_PATH)

namespace dmaheap {
namespace {

using testing::waitFor;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/dmaheapd-bin-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { testing::removeTree(path); }
  std::string path;
};

pid_t spawn(const std::vector<std::string>& argv, int listen_fd = -1) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (listen_fd >= 0) {
      if (listen_fd != 3) {
        ::dup2(listen_fd, 3);
        ::close(listen_fd);
      }
      ::setenv("LISTEN_FDS", "1", 1);
      ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int terminate(pid_t pid) {
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(Dmaheapd, ServesReportsAndShutsDownCleanly) {
  TempDir dir;
  const std::string sock = dir.path + "/dmaheap.sock";
  const pid_t pid = spawn({DMAHEAPD_PATH, "--socket", sock, "--kernel", "6.12"});
  ASSERT_TRUE(waitFor([&] { return proto::connectUnix(sock).ok(); }));
  auto client = proto::ServiceClient::connect(sock);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->service().kernel, "6.12");
  auto b = client->allocate("system", 128 * 1024);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(client->setName(b->fd.get(), "from-test").ok());
#if defined(DMAHEAP_PATH)
  const std::string cmd = std::string(DMAHEAP_PATH) + " stats --json --socket " + sock;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0);
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["buffers"].size(), 1u);
  EXPECT_EQ(j["buffers"][0]["inode"], b->info.inode);
  EXPECT_EQ(j["buffers"][0]["name"], "from-test");
  EXPECT_EQ(j["buffers"][0]["heap"], "system");
  EXPECT_EQ(j["buffers"][0]["holders"][0]["pid"], static_cast<uint32_t>(getpid()));
  bool system = false;
  for (const auto& h : j["heaps"]) system |= h["name"] == "system" && h["used"] >= 128 * 1024;
  EXPECT_TRUE(system);

  // list and alloc go to the running service (it emulates 6.12; the embedded default is 6.18)
  // when the command names no board of its own, and stay embedded otherwise.
  auto run = [](const std::string& command) {
    std::string text;
    std::FILE* f = ::popen(command.c_str(), "r");
    char chunk[4096];
    for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, f)) > 0;) text.append(chunk, n);
    EXPECT_EQ(::pclose(f), 0) << command;
    return nlohmann::json::parse(text);
  };
  const std::string env = "DMAHEAP_SOCKET=" + sock + " ";
  EXPECT_EQ(run(env + DMAHEAP_PATH + " list --json")["kernel"], "6.12");
  EXPECT_EQ(run(env + DMAHEAP_PATH + " list --json --kernel 6.18")["kernel"], "6.18");
  EXPECT_EQ(run("DMAHEAP_SOCKET=" + dir.path + "/none.sock " + DMAHEAP_PATH + " list --json")["kernel"], "6.18");
  auto alloc = run(env + DMAHEAP_PATH + " alloc reserved 8K --count 2 --json");
  ASSERT_EQ(alloc["buffers"].size(), 2u);
  EXPECT_EQ(alloc["buffers"][0]["heap"], "reserved");
  EXPECT_EQ(alloc["buffers"][0]["segments"].size(), 1u);
#endif
  EXPECT_EQ(terminate(pid), 0);
  EXPECT_FALSE(std::filesystem::exists(sock));
  auto* m = static_cast<uint8_t*>(mmap(nullptr, 128 * 1024, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd.get(), 0));
  ASSERT_NE(m, MAP_FAILED);
  m[0] = 1;
  munmap(m, 128 * 1024);
}

TEST(Dmaheapd, AcceptsASocketFromSystemd) {
  TempDir dir;
  const std::string sock = dir.path + "/activated.sock";
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  const pid_t pid = spawn({DMAHEAPD_PATH}, listener.get());
  listener.reset();
  auto client = proto::ServiceClient::connect(sock);  // queued in the backlog until it accepts
  ASSERT_TRUE(client.ok()) << client.error().message();
  EXPECT_TRUE(client->allocate("reserved", 4096).ok());
  EXPECT_EQ(terminate(pid), 0);
  EXPECT_TRUE(std::filesystem::exists(sock));  // systemd's socket is not ours to remove
}

TEST(Dmaheapd, BadArgumentsExitTwo) {
  const pid_t a = spawn({DMAHEAPD_PATH, "--kernel", "4.19"});
  int st = 0;
  ::waitpid(a, &st, 0);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  const pid_t b = spawn({DMAHEAPD_PATH, "--frobnicate", "x"});
  ::waitpid(b, &st, 0);
  EXPECT_EQ(WEXITSTATUS(st), 2);
}

}  // namespace
}  // namespace dmaheap

#endif
