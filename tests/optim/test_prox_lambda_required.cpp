// A regularised param group needs a lambda (its "lambda" option or the optimizer's default):
// without one the constructor throws instead of running silently unregularised; 0 given
// explicitly is accepted.
#include <functional>

#include "optim/optim_helpers.h"
#include "proxima/optim/prox/prox.h"

using namespace px;
using namespace px::optim;
using namespace px::optim::prox;

namespace {

Tensor param() { return from_vector(std::vector<double>{0.5, -0.01, 0.02, -2.0}, {4}); }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "(no ValueError)";
}

}  // namespace

TEST_CASE("prox lambda: a regularised group without any lambda throws, naming the group, the regulariser and the fix") {
  Tensor p = param();
  CHECK(message_of([&] {
          ProxGen({ParamGroup{.params = {p}, .options = {{"regularizer", std::string("l1")}}}}, ProxGenOptions{});
        }) == "proxgen: param group 0 names regularizer 'l1' but no lambda: set the group option 'lambda' or "
              "ProxGenOptions::lambda (0 is accepted when given explicitly)");
  // The second group is the one without a lambda; the options' regulariser counts too.
  Tensor q = param();
  CHECK(message_of([&] {
          ProxGen({ParamGroup{.params = {p}, .options = {{"lambda", 1e-3}}}, ParamGroup{.params = {q}}},
                  ProxGenOptions{.regularizer = "l0"});
        }) == "proxgen: param group 1 has regularizer 'l0' (the default regularizer) but no lambda: set the group "
              "option 'lambda' or ProxGenOptions::lambda (0 is accepted when given explicitly)");
  CHECK(message_of([&] { ProxGen({p}, ProxGenOptions{.regularizer = "bin-l1", .metric_prox = false}); })
            .starts_with("proxquant: param group 0 has regularizer 'bin-l1'"));
  CHECK(message_of([&] { ProxSGD({p}, ProxSGDOptions{.regularizer = "l1"}); }) ==
        "proxsgd: param group 0 has regularizer 'l1' (the default regularizer) but no lambda: set the group option "
        "'lambda' or ProxSGDOptions::lambda (0 is accepted when given explicitly)");
  // make_prox_optimizer names its own field; proxquant's default regulariser needs a lambda too.
  const std::vector<ParamGroup> one = {ParamGroup{.params = {p}}};
  CHECK(message_of([&] { make_prox_optimizer("proxgen", one, {.regularizer = "l1"}); }) ==
        "proxgen: param group 0 has regularizer 'l1' (the default regularizer) but no lambda: set the group option "
        "'lambda' or ProxConfig::lambda (0 is accepted when given explicitly)");
  CHECK(message_of([&] { make_prox_optimizer("proxquant", one); }).find("'bin-l1'") != std::string::npos);
  CHECK(message_of([&] { make_prox_optimizer("proxsgd", one, {.regularizer = "l12"}); }).find("ProxConfig::lambda") !=
        std::string::npos);
  CHECK(message_of([&] { make_prox_optimizer("subgrad-sgd", one, {.regularizer = "l1"}); })
            .starts_with("subgrad-sgd: param group 0 has regularizer 'l1'"));
  // A bad spec is reported as such, not as a missing lambda.
  CHECK(message_of([&] {
          ProxGen({ParamGroup{.params = {p}, .options = {{"regularizer", std::string("l7")}}}});
        }).find("l7") != std::string::npos);
}

TEST_CASE("prox lambda: lambda 0 given explicitly is accepted and leaves the group unregularised") {
  Tensor p = param();
  ProxGen by_group({ParamGroup{.params = {p}, .options = {{"regularizer", std::string("l1")}, {"lambda", 0.0}}}});
  CHECK(by_group.regularizer(0) != nullptr);
  CHECK(by_group.lambda(0) == 0.0);
  CHECK_FALSE(by_group.regularized(0));
  ProxGen by_options({p}, ProxGenOptions{.regularizer = "l1", .lambda = 0});
  CHECK_FALSE(by_options.regularized(0));
  ProxSGD sgd({p}, ProxSGDOptions{.regularizer = "l1", .lambda = 0.0});
  CHECK_FALSE(sgd.regularized(0));
  CHECK(make_prox_optimizer("proxquant", {ParamGroup{.params = {p}}}, {.lambda = 0.0})->lambda(0) == 0.0);
  // A group's own lambda needs no default; groups without a regulariser need no lambda.
  Tensor q = param();
  ProxGen mixed({ParamGroup{.params = {p}, .options = {{"regularizer", std::string("l1")}, {"lambda", 0.1}}},
                 ParamGroup{.params = {q}}});
  CHECK(mixed.regularized(0));
  CHECK_FALSE(mixed.regularized(1));
  ProxGen plain({p});
  CHECK(plain.regularizer(0) == nullptr);
  // lambda 0 steps exactly as the unregularised optimizer.
  Tensor a = param(), b = param();
  ProxGen zero({a}, ProxGenOptions{.lr = 0.1, .regularizer = "l1", .lambda = 0.0});
  ProxGen none({b}, ProxGenOptions{.lr = 0.1});
  for (int s = 0; s < 3; ++s) {
    a.set_grad(from_vector(std::vector<double>{0.3, -0.2, 0.1, 0.4}, {4}));
    b.set_grad(from_vector(std::vector<double>{0.3, -0.2, 0.1, 0.4}, {4}));
    zero.step();
    none.step();
  }
  CHECK(test::values(a) == test::values(b));
}
