// The service backend: a dmaheapd Service running in this process on a private socket, reached
// by libdmaheap (conformance program on the C API), by `dmaheap run --backend service`
// (runProgram over a ServiceBackend) and after the service died (ENODEV, one stderr line).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "board/board_loader.h"
#include "emulation/runner.h"
#include "emulation/service_backend.h"
#include "service/service.h"

namespace dmaheap::emul {
namespace {

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dmaheap-client-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/dmaheap.sock";
    auto board = loadBoard({});
    ASSERT_TRUE(board.ok());
    board_ = std::move(board.value());
    service::ServiceOptions o;
    o.log = [](const std::string&) {};
    auto s = service::Service::create(*board_->registry, o);
    ASSERT_TRUE(s.ok()) << s.error().message();
    service_ = std::move(s.value());
    ASSERT_TRUE(service_->listen(socket_).ok());
    thread_ = std::thread([this] { (void)service_->run(); });
  }
  void TearDown() override {
    stopService();
    std::system(("rm -rf " + dir_).c_str());
  }
  void stopService() {
    if (thread_.joinable()) {
      service_->stop();
      thread_.join();
    }
  }
  std::unique_ptr<ServiceBackend> connect() {
    auto b = ServiceBackend::connect(socket_);
    EXPECT_TRUE(b.ok()) << b.error().message();
    return b.ok() ? std::move(b.value()) : nullptr;
  }

  std::string dir_, socket_;
  std::unique_ptr<Board> board_;
  std::unique_ptr<service::Service> service_;
  std::thread thread_;
};

TEST_F(ServiceTest, BackendAllocatesAndTracksBuffers) {
  auto b = connect();
  auto heaps = b->heaps();
  ASSERT_TRUE(heaps.ok());
  EXPECT_EQ(heaps->size(), 3u);
  auto buf = b->allocate("reserved", {4096, 0, O_RDWR | O_CLOEXEC, 0});
  ASSERT_TRUE(buf.ok()) << buf.error().message();
  EXPECT_TRUE(b->owns(buf->key));
  EXPECT_TRUE(b->setName(buf->key, buf->fd.get(), "from-test").ok());
  EXPECT_EQ(b->allocate("system", {0, 0, O_RDWR, 0}).code(), EINVAL);
  buf->fd.reset();
  EXPECT_FALSE(b->owns(buf->key));
}

TEST_F(ServiceTest, ConformanceThroughLibdmaheap) {
  const std::string cmd = "DMAHEAP_SOCKET=" + socket_ + " CONFORMANCE_BACKEND=service " DMAHEAP_CONFORMANCE_LIB;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string last;
  char line[1024];
  while (std::fgets(line, sizeof line, p)) last = line;
  const int st = ::pclose(p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << last;
  EXPECT_NE(last.find(" passed, 0 failed"), std::string::npos) << last;
}

TEST_F(ServiceTest, ConformanceUnderRunWithTheServiceBackend) {
  auto b = connect();
  RunOptions o;
  o.argv = {DMAHEAP_CONFORMANCE};
  ::testing::internal::CaptureStdout();
  auto status = runProgram(*b, o);
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(status.value(), 0) << out;
}

TEST_F(ServiceTest, DeadServiceGivesEnodevAndOneLine) {
  auto b = connect();
  const std::string fifo = dir_ + "/go";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The program waits on the fifo, so the service dies while it runs, before its ALLOC.
  // The killer waits until the program has opened the fifo (so it is running, past the
  // supervisor's set-up), then stops the service and lets the program go on. A deadline keeps a
  // failed start from hanging the test.
  std::thread killer([&] {
    int fd = -1;
    for (int i = 0; i < 3000 && fd < 0; ++i) {
      fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // ENXIO until a reader exists
      if (fd < 0) ::usleep(10000);
    }
    stopService();
    if (fd >= 0) {
      (void)!::write(fd, "go\n", 3);
      ::close(fd);
    }
  });
  RunOptions o;
  o.argv = {"sh", "-c", "read x < " + fifo + "; " DMAHEAP_HEAP_USER " alloc system; s=$?; " DMAHEAP_HEAP_USER
                        " alloc system; exit $s"};
  ::testing::internal::CaptureStderr();
  auto status = runProgram(*b, o);
  const std::string err = ::testing::internal::GetCapturedStderr();
  killer.join();
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(status.value(), ENODEV);
  EXPECT_NE(err.find("dmaheapd service at " + socket_ + " is gone"), std::string::npos) << err;
  EXPECT_EQ(err.find("dmaheap run:"), err.rfind("dmaheap run:")) << "one line, not one per failure:\n" << err;
}

}  // namespace
}  // namespace dmaheap::emul
