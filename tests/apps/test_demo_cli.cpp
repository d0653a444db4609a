// apps/demo's command line, run as a process: a bad flag gives one line "demo: error: ..." naming
// it and exit status 2, a diverging loss exit status 3, as in lasso, plot and train_cifar.
#include "apps/run_program.h"
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

using px::test_support::Ran;
using px::test_support::TempDir;
using px::test_support::run_program;

namespace {

Ran run_demo(const std::vector<std::string>& args, const TempDir& dir) { return run_program("demo", args, dir); }

}  // namespace

TEST_CASE("demo flags: one line naming the flag and exit status 2, negative seeds refused, divergence 3") {
  TempDir dir("px_demo");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--epochs", "0"}, "--epochs"},
      {{"--epochs", "99999999999999999999"}, "--epochs"},
      {{"--log-every", "-1"}, "--log-every"},
      {{"--lr", "abc"}, "--lr"},
      {{"--momentum", "1"}, "--momentum"},
      {{"--seed", "-1"}, "--seed"},  // CLI11 alone wraps it to 2^64 - 1
      {{"--seed", "18446744073709551616"}, "--seed"},
      {{"--no-such-flag"}, "--no-such-flag"}};
  for (const auto& [args, needle] : cases) {
    INFO(args[0]);
    const Ran r = run_demo(args, dir);
    CHECK(r.code == 2);
    CHECK(r.err.find("demo: error: ") == 0);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
  }
  // A diverging loss: exit 3 (as train_cifar and lasso), one line naming the lr.
  const Ran wild = run_demo({"--epochs", "2", "--lr", "1e30"}, dir);
  CHECK(wild.code == 3);
  CHECK(wild.err.find("demo: error: the loss became") == 0);
  CHECK(wild.err.find("--lr") != std::string::npos);
  const Ran help = run_demo({"--help"}, dir);
  CHECK(help.code == 0);
  CHECK(help.out.find("--epochs") != std::string::npos);
  const Ran ok = run_demo({"--epochs", "1", "--seed", "18446744073709551615"}, dir);
  CHECK(ok.code == 0);
  CHECK(ok.out.find("seed 18446744073709551615") != std::string::npos);
  CHECK(ok.out.find("final accuracy") != std::string::npos);
}
