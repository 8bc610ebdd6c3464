// The named release rules of src/base/kernel.h (KernelRule): the table is well formed and each
// rule switches at the releases docs/kernel-behaviour.md gives.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/kernel.h"

namespace dmaheap {
namespace {

KernelVersion V(int major, int minor) { return KernelVersion::of(major, minor); }

TEST(KernelRules, TableIsWellFormed) {
  size_t n = 0;
  const KernelRuleInfo* rows = kernelRuleTable(&n);
  ASSERT_EQ(n, static_cast<size_t>(KernelRule::kCount));
  std::set<std::string> names;
  for (size_t i = 0; i < n; ++i) {
    const KernelRuleInfo& r = rows[i];
    EXPECT_EQ(static_cast<size_t>(r.rule), i);
    EXPECT_TRUE(names.insert(r.name).second) << "duplicate rule name " << r.name;
    EXPECT_GT(std::string(r.doc).size(), 20u) << r.name;
    EXPECT_TRUE(KernelVersion::parse(r.since.str()).ok()) << r.name << " since " << r.since.str();
    if (!r.open_ended) {
      EXPECT_LE(r.since, r.until) << r.name;
      EXPECT_TRUE(KernelVersion::parse(r.until.str()).ok()) << r.name << " until " << r.until.str();
    }
    EXPECT_EQ(&kernelRuleInfo(r.rule), &r);
  }
}

TEST(KernelRules, OpenEndedRuleSwitchesOnAtItsRelease) {
  EXPECT_FALSE(ruleApplies(KernelRule::kRmemEarlyLateSplit, V(6, 11)));
  EXPECT_TRUE(ruleApplies(KernelRule::kRmemEarlyLateSplit, V(6, 12)));
  EXPECT_TRUE(ruleApplies(KernelRule::kRmemEarlyLateSplit, V(7, 2)));
  EXPECT_FALSE(ruleApplies(KernelRule::kMemoryScanRootChildrenOnly, V(5, 16)));
  EXPECT_TRUE(ruleApplies(KernelRule::kMemoryScanRootChildrenOnly, V(5, 17)));
  EXPECT_FALSE(ruleApplies(KernelRule::kRmemHandlerNotMineEnodev, V(7, 0)));
  EXPECT_TRUE(ruleApplies(KernelRule::kRmemHandlerNotMineEnodev, V(7, 1)));
}

TEST(KernelRules, BoundedRuleHoldsOnlyInsideItsReleases) {
  EXPECT_FALSE(ruleApplies(KernelRule::kCmaLogNamesNode, V(6, 5)));
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaLogNamesNode, V(6, 6)));
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaLogNamesNode, V(6, 14)));
  EXPECT_FALSE(ruleApplies(KernelRule::kCmaLogNamesNode, V(6, 15)));
  EXPECT_FALSE(ruleApplies(KernelRule::kRmemScanSkipsCmaDefault, V(6, 18)));
  EXPECT_TRUE(ruleApplies(KernelRule::kRmemScanSkipsCmaDefault, V(6, 19)));
  EXPECT_TRUE(ruleApplies(KernelRule::kRmemScanSkipsCmaDefault, V(7, 0)));
  EXPECT_FALSE(ruleApplies(KernelRule::kRmemScanSkipsCmaDefault, V(7, 1)));
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaActivationStopsOnFailure, V(5, 3)));
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaActivationStopsOnFailure, V(5, 8)));
  EXPECT_FALSE(ruleApplies(KernelRule::kCmaActivationStopsOnFailure, V(5, 9)));
}

TEST(KernelRules, SingleReleaseRules) {
  EXPECT_FALSE(ruleApplies(KernelRule::kCmaWarnRelease6_1, V(6, 0)));
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaWarnRelease6_1, V(6, 1)));
  EXPECT_FALSE(ruleApplies(KernelRule::kCmaWarnRelease6_1, V(6, 2)));
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaWarnRelease7_2, V(7, 2)));
  EXPECT_FALSE(ruleApplies(KernelRule::kCmaWarnRelease7_2, V(7, 1)));
}

TEST(KernelRules, ZoneRulesCoverEveryReleaseOnce) {
  // Exactly one zone layout per release: 32-bit only, fixed 1 GiB DMA, or from the tree.
  for (int major = 5; major <= 7; ++major) {
    for (int minor = 0; minor <= 19; ++minor) {
      auto v = KernelVersion::parse(std::to_string(major) + "." + std::to_string(minor));
      if (!v.ok()) continue;
      const int layouts = ruleApplies(KernelRule::kZoneDmaFixed1G, *v) + ruleApplies(KernelRule::kZoneDmaFromDt, *v);
      EXPECT_LE(layouts, 1) << v->str();
      EXPECT_EQ(layouts == 0, *v < V(5, 5)) << v->str();
    }
  }
}

TEST(KernelRules, KernelOverloadAsksItsVersion) {
  Kernel k;
  k.version = V(6, 1);
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaWarnRelease6_1, k));
  k.version = V(6, 12);
  EXPECT_FALSE(ruleApplies(KernelRule::kCmaWarnRelease6_1, k));
  EXPECT_TRUE(ruleApplies(KernelRule::kCmaWarnRelease6_12, k));
}

}  // namespace
}  // namespace dmaheap
