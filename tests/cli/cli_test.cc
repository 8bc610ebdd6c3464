// The shared command-line layer (src/tools/cli): the accepted forms of docs/cli.md "Parsing",
// exit statuses, the shared board options, and the walked tree.
#include "tools/cli/cli.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tools/cli/board_args.h"

namespace dmaheap::cli {
namespace {

// A tool with one command `go NAME [--count N] [--json]` plus the board options.
struct Fixture {
  Cli cli{"tool", "a test tool"};
  std::string name;
  std::optional<std::string> count;
  bool json = false;
  BoardArgs board;
  int ran = 0;

  Fixture() {
    CLI::App* sub = cli.command("go", "the command");
    sub->add_option("NAME", name, "a name")->required();
    sub->add_option("--count", count, "how many")->type_name("N");
    sub->add_flag("--json", json, "json")->disable_flag_override();
    addBoardOptions(cli, sub, &board);
    cli.onRun(sub, [this] { return ++ran, 7; });
  }
  int run(std::vector<std::string> args) {
    args.insert(args.begin(), "tool");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return cli.run(static_cast<int>(argv.size()), argv.data());
  }
};

TEST(Cli, RunsTheCommandAndReturnsItsStatus) {
  Fixture f;
  EXPECT_EQ(f.run({"go", "x"}), 7);
  EXPECT_EQ(f.ran, 1);
  EXPECT_EQ(f.name, "x");
  EXPECT_FALSE(f.count.has_value());
  EXPECT_FALSE(f.json);
  EXPECT_FALSE(f.board.any());
}

TEST(Cli, ValueFormsOrderAndRepeats) {
  Fixture f;
  EXPECT_EQ(f.run({"go", "--kernel=6.1", "--count", "3", "x", "--json", "--count=5", "--kernel", "6.12"}), 7);
  EXPECT_EQ(f.name, "x");
  EXPECT_EQ(f.count, "5");  // the last one counts
  EXPECT_EQ(f.board.kernel, "6.12");
  EXPECT_TRUE(f.json);
  EXPECT_TRUE(f.board.any());
  EXPECT_EQ(f.board.options().kernel, "6.12");
  EXPECT_EQ(f.board.options().dtb, "");
}

TEST(Cli, AValueMayStartWithADash) {
  Fixture f;
  EXPECT_EQ(f.run({"go", "--cmdline", "-x", "y"}), 7);
  EXPECT_EQ(f.board.cmdline, "-x");
  EXPECT_EQ(f.name, "y");
}

TEST(Cli, UsageErrorsExit2WithoutRunning) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"go", "x", "--bogus"}, {"go"}, {"go", "x", "y"}, {"go", "x", "--count"}, {"go", "x", "--json=1"},
           {"frobnicate"}, {}, {"--bogus"}}) {
    Fixture f;
    EXPECT_EQ(f.run(args), kExitUsage) << (args.empty() ? "(none)" : args[0]);
    EXPECT_EQ(f.ran, 0);
  }
}

TEST(Cli, HelpAndVersionExit0WithoutRunning) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}, {"go", "--help"}, {"--version"}}) {
    Fixture f;
    testing::internal::CaptureStdout();
    EXPECT_EQ(f.run(args), kExitOk);
    const std::string out = testing::internal::GetCapturedStdout();
    EXPECT_FALSE(out.empty());
    EXPECT_EQ(f.ran, 0);
  }
}

TEST(Cli, VersionIsToolAndRelease) {
  const std::string v = versionText("tool");
  EXPECT_EQ(v.rfind("tool 0.", 0), 0u) << v;
}

TEST(Cli, TreeListsVisibleOptionsWithGroupsAndWords) {
  Fixture f;
  const auto tree = nlohmann::json::parse(f.cli.treeJson());
  ASSERT_EQ(tree["subcommands"].size(), 1u);
  const auto& go = tree["subcommands"][0];
  EXPECT_EQ(go["name"], "go");
  EXPECT_EQ(go["path"], "tool go");
  ASSERT_EQ(go["positionals"].size(), 1u);
  EXPECT_EQ(go["positionals"][0]["name"], "NAME");
  std::vector<std::string> names;
  for (const auto& o : go["options"]) names.push_back(o["names"].back());
  EXPECT_EQ(names, (std::vector<std::string>{"--help", "--count", "--json", "--dtb", "--kernel", "--kernel-config",
                                             "--arch", "--cmdline", "--profile", "--heaps", "--memory", "--memory-size"}));
  for (const auto& o : go["options"]) {
    if (o["names"].back() == "--arch") {
      EXPECT_EQ(o["group"], kBoardGroup);
      EXPECT_EQ(o["words"], (std::vector<std::string>{"arm", "arm64", "riscv64"}));
    }
    if (o["names"].back() == "--profile") {
      EXPECT_EQ(o["group"], kBoardGroup);
      EXPECT_EQ(o["words"], (std::vector<std::string>{"android", "rockchip", "nxp"}));
    }
    if (o["names"].back() == "--dtb") {
      EXPECT_TRUE(o["file"].get<bool>());
    }
    if (o["names"].back() == "--json") {
      EXPECT_TRUE(o["value"].is_null());
    }
  }
  // --print-cli is internal: not in the tree.
  for (const auto& o : tree["options"]) EXPECT_NE(o["names"].back(), "--print-cli");
}

TEST(Cli, KernelReleasesAreWhatTheParserTakes) {
  const auto releases = kernelReleases();
  ASSERT_FALSE(releases.empty());
  EXPECT_EQ(releases.front(), "5.3");
  EXPECT_EQ(releases.back(), "7.2");
  EXPECT_EQ(releases.size(), 17u + 20u + 3u);  // 5.3-5.19, 6.0-6.19, 7.0-7.2
}

}  // namespace
}  // namespace dmaheap::cli
