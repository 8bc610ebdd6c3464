// The one parser of backend names, for each place a name comes from.
#include "base/backend_name.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

TEST(BackendName, TextOfEachName) {
  EXPECT_STREQ(backendNameText(BackendName::kAuto), "auto");
  EXPECT_STREQ(backendNameText(BackendName::kKernel), "kernel");
  EXPECT_STREQ(backendNameText(BackendName::kService), "service");
  EXPECT_STREQ(backendNameText(BackendName::kEmbedded), "embedded");
}

TEST(BackendName, EnvironmentAndApiAcceptEveryNameAndEmpty) {
  for (auto source : {BackendNameSource::kEnvironment, BackendNameSource::kApi}) {
    EXPECT_EQ(parseBackendName("", source).value(), BackendName::kAuto);
    EXPECT_EQ(parseBackendName("auto", source).value(), BackendName::kAuto);
    EXPECT_EQ(parseBackendName("kernel", source).value(), BackendName::kKernel);
    EXPECT_EQ(parseBackendName("service", source).value(), BackendName::kService);
    EXPECT_EQ(parseBackendName("embedded", source).value(), BackendName::kEmbedded);
  }
}

TEST(BackendName, RunOptionAcceptsNoKernelAndNoEmptyName) {
  EXPECT_EQ(parseBackendName("auto", BackendNameSource::kRunOption).value(), BackendName::kAuto);
  EXPECT_EQ(parseBackendName("service", BackendNameSource::kRunOption).value(), BackendName::kService);
  EXPECT_EQ(parseBackendName("embedded", BackendNameSource::kRunOption).value(), BackendName::kEmbedded);
  for (const char* bad : {"kernel", "", "Embedded", "bogus"}) {
    auto r = parseBackendName(bad, BackendNameSource::kRunOption);
    EXPECT_EQ(r.code(), EINVAL) << bad;
    EXPECT_EQ(r.error().message(), "--backend must be auto, embedded or service") << bad;
  }
}

TEST(BackendName, RefusalsNameTheSourceAndTheText) {
  auto env = parseBackendName("bogus", BackendNameSource::kEnvironment);
  EXPECT_EQ(env.code(), EINVAL);
  EXPECT_EQ(env.error().message(), "DMAHEAP_BACKEND=bogus is not auto, kernel, service or embedded");
  auto api = parseBackendName("KERNEL", BackendNameSource::kApi);  // names are case-sensitive
  EXPECT_EQ(api.code(), EINVAL);
  EXPECT_EQ(api.error().message(), "backend 'KERNEL' is not auto, kernel, service or embedded");
  EXPECT_EQ(parseBackendName(" auto", BackendNameSource::kEnvironment).code(), EINVAL);
  EXPECT_EQ(parseBackendName("auto ", BackendNameSource::kApi).code(), EINVAL);
}

}  // namespace
}  // namespace dmaheap
