// train_cifar's flags (CLI11), their validation, and TrainConfig <-> JSON.
#include "common/config.h"

#include <CLI/CLI.hpp>

#include <cmath>

#include "common/cli_parse.h"
#include "proxima/core/device.h"
#include "proxima/core/error.h"

namespace px::apps {
namespace {

void add_flags(CLI::App& app, TrainConfig& c, bool& no_progress) {
  app.option_defaults()->always_capture_default();
  app.add_option("--data", c.data,
                 "dataset location: a CIFAR-10/100 binary folder, an image folder (train/<class>/, "
                 "test/<class>/) or an IDX folder; default: Fashion-MNIST from " +
                     std::string(kDefaultDataDir));
  app.add_option("--dataset", c.dataset, "format of --data")
      ->check(CLI::IsMember({"auto", "cifar10", "cifar100", "cifar100-coarse", "folder", "image-folder",
                               "idx", "mnist", "fashion-mnist"}));
  app.add_option("--model", c.model,
                 "mlp, mlp:W1,W2,..., lenet5, vgg11/13/16/19, resnet20/32/44/56/110, resnet18/34; PathProx's "
                 "mlp-factorized[:H] (hidden 400) and vgg11/13/16/19-nobn (no BatchNorm)");
  app.add_option("--optimizer", c.optimizer,
                 "sgd, adam, adamw, adagrad, rmsprop, or a proximal method: proxgen (ProxGen, exact "
                 "preconditioned prox), proxsgd (Yang et al. 2020), proxquant (Bai et al. 2019), binaryconnect, "
                 "subgrad-adam, subgrad-sgd (lambda * subgradient of R added to the gradient); pathprox (Yang et al. "
                 "2022: SGD, layer-wise balance, unit normalisation and group prox of the path norm; models with "
                 "homogeneous units only: mlp, mlp:W..., mlp-factorized, vggNN-nobn); sr2 (Lakhmiri et al. 2022: "
                 "adaptive quadratic regularisation, each step accepted or rejected on its minibatch; "
                 "no --lr, see --sigma0)")
      ->check(CLI::IsMember(train_optimizer_names()));
  app.add_option("--lr", c.lr,
                 "base learning rate; default by optimizer: sgd, subgrad-sgd 0.05; adam, adamw, rmsprop, "
                 "subgrad-adam 1e-3; adagrad 0.01; proxgen 1e-3 (--precond none 0.05, adagrad 0.01, bin-* 0.01); "
                 "proxsgd 0.06 (its epsilon0); proxquant, binaryconnect 0.01; pathprox 0.1")
      ->default_str("by optimizer");
  app.add_option("--momentum", c.momentum,
                 "momentum of sgd and rmsprop, beta1 of adam, adamw and the proximal methods' Adam moments, "
                 "proxgen's rho (not used by adagrad or proxsgd). Default 0.9; 0 for rmsprop (PyTorch's), "
                 "pathprox and proxgen --precond adagrad|rmsprop")
      ->default_str("0.9 / 0");
  app.add_option("--weight-decay", c.weight_decay,
                 "L2 weight decay (decoupled for adamw, proxgen, proxquant, proxsgd, binaryconnect and subgrad-adam; "
                 "coupled, added to the gradient, for sgd, adam, adagrad, rmsprop and subgrad-sgd); default 5e-4, 0 for the "
                 "proximal methods and pathprox (which refuses it). sgd on a model with homogeneous units (mlp, "
                 "mlp-factorized, vggNN-nobn) decays weights only, not biases (PathProx's baseline), and logs "
                 "PathProx's path-norm columns with lambda = this value")
      ->default_str("5e-4 / 0");
  app.add_option("--precond", c.precond, "proxgen's preconditioner C_t")
      ->check(CLI::IsMember({"none", "adam", "adagrad", "rmsprop"}));
  app.add_option("--delta", c.delta,
                 "the preconditioner's damping delta in C_t + delta (default: adam, rmsprop 1e-8; adagrad 1e-10; "
                 "none 0)")
      ->default_str("by preconditioner");
  app.add_option("--reg", c.reg,
                 "regulariser R: none, l1, l0, l12 (|x|^1/2), l23 (|x|^2/3), lq:Q (0<Q<1), mcp, scad, group "
                 "(group lasso), l2 (x^2/2), bin-l1, bin-l12, bin-l23, bin-l0 (ProxQuant's distance to +-1); "
                 "auto: l1 for proxgen, proxsgd and subgrad-*, bin-l1 for proxquant and binaryconnect, none "
                 "for the classic optimizers");
  app.add_option("--lambda", c.lambda,
                 "weight of R in loss + lambda R (never divided by the dataset size). Defaults: l1 1e-4, l0 3e-4, "
                 "l12 3e-5, l23 5e-5, lq:Q 3e-5, mcp 5e-3, scad 5e-3, group 1e-3, l2 5e-4, bin-* 1e-4 (proxquant: the "
                 "homotopy rate); proxsgd takes half of these (its threshold has no learning rate); pathprox 1e-4 "
                 "(weight of the path norm; the layers outside its groups get (lambda/2)||W||^2); sr2 takes the table "
                 "(its threshold is lambda / sigma; the official SR2 code uses 1e-3 for l1)")
      ->default_str("by regulariser");
  app.add_option("--lambda-schedule", c.lambda_schedule,
                 "constant, warmup:E (lambda rises linearly over E epochs), homotopy (lambda x epoch index, "
                 "ProxQuant); auto: homotopy for proxquant and for proxgen with a bin-* regulariser (revised "
                 "ProxQuant keeps ProxQuant's settings), constant otherwise");
  app.add_option("--reg-scope", c.reg_scope, "weights: conv and linear weights only; all: every parameter")
      ->check(CLI::IsMember({"weights", "all"}));
  app.add_flag("--exclude-first-last", c.exclude_first_last,
               "leave the first and the last regularised weight tensors unregularised");
  app.add_option("--freeze-epoch", c.freeze_epoch,
                 "binary regularisers: after this many epochs set the regularised weights to their signs and "
                 "freeze them (0 = never)");
  app.add_option("--warm-start", c.warm_start,
                 "start from these model weights: a .safetensors state dict, a checkpoint .json or a run "
                 "directory (e.g. a full-precision run for proxquant)");
  app.add_option("--clip", c.clip,
                 "after each step clip the regularised weights to [-C, C] (proxgen, proxquant, proxsgd, "
                 "binaryconnect); 0: no clip; auto: 1 for proxquant, binaryconnect and proxgen with a bin-* "
                 "regulariser (ProxQuant's projection), none otherwise")
      ->default_str("auto");
  app.add_option("--ties", c.ties,
                 "the prox at an exact tie between 0 and the nonzero minimiser (l0, l12, l23, lq, mcp, scad, bin-*): "
                 "zero (proxima's convention) or keep (the nonzero point, SR2's code)")
      ->check(CLI::IsMember({"zero", "keep"}));
  app.add_option("--binary-zero", c.binary_zero,
                 "bin-* at x = 0: plus-one (sgn 0 = +1, pulled to +1), keep-zero (ProxQuant's code: 0 stays 0, "
                 "also when freezing and binarising), literal (the exact prox of |x - sgn x|^q with sgn 0 = 0)")
      ->check(CLI::IsMember({"plus-one", "keep-zero", "literal"}));
  app.add_option("--mcp-gamma", c.mcp_gamma, "MCP's gamma (> 0)");
  app.add_option("--scad-a", c.scad_a, "SCAD's a (> 2)");
  app.add_option("--group-by", c.group_by,
                 "group lasso groups: filters or rows (dim 0: conv filters, linear output units; prunes units), "
                 "channels or columns (dim 1: input channels, input features), or whole (each tensor one group)")
      ->check(CLI::IsMember({"rows", "columns", "filters", "channels", "whole"}));
  // SR2 (docs/sr2.md)
  app.add_option("--sigma0", c.sigma0,
                 "sr2: initial sigma (the inverse step length); 0: the magnitude of the top Hessian eigenvalue on "
                 "the first minibatch (20 power iterations, finite-difference Hessian-vector products)");
  app.add_option("--sr2-precond", c.sr2_precond,
                 "sr2's denominator D = sigma + P: none (P = 0), adam (P = sqrt(EMA_0.9 g^2)), andrei (Andrei's "
                 "diagonal quasi-Newton B, counted where B > 1e-5; one more gradient per accepted step)")
      ->check(CLI::IsMember({"none", "adam", "andrei"}));
  app.add_option("--sr2-eta1", c.sr2_eta1, "sr2: accept the step when rho >= eta1, in (0, 1)");
  app.add_option("--sr2-eta2", c.sr2_eta2, "sr2: sigma *= --sr2-gamma3 when rho >= eta2, in [eta1, 1]");
  app.add_option("--sr2-gamma1", c.sr2_gamma1, "sr2: sigma *= gamma1 (> 1) on a rejected step");
  app.add_option("--sr2-gamma3", c.sr2_gamma3, "sr2: sigma *= gamma3 (in (0, 1]) on a very successful step");
  app.add_option("--schedule", c.schedule, "learning-rate schedule (default cosine; constant for the proximal methods)")
      ->check(CLI::IsMember({"constant", "step", "multistep", "cosine"}));
  app.add_option("--milestones", c.milestones, "multistep: epochs where the lr is multiplied by --gamma, e.g. 100,150")
      ->delimiter(',');
  app.add_option("--step-size", c.step_size, "step: epochs between multiplications by --gamma");
  app.add_option("--gamma", c.gamma, "lr decay factor of step and multistep");
  app.add_option("--warmup-epochs", c.warmup_epochs, "linear warm-up from 0.1 x lr over this many epochs (0 = none)");
  app.add_option("--epochs", c.epochs, "number of epochs")->check(integer_of<std::int64_t>());
  app.add_option("--batch-size", c.batch_size, "training batch size")->check(integer_of<std::int64_t>());
  app.add_option("--augment", c.augment,
                 "none, standard (random crop with padding 4 + horizontal flip), cutout (standard + "
                 "cutout 16); auto = standard for 32x32 RGB data, none otherwise")
      ->check(CLI::IsMember({"auto", "none", "standard", "cutout"}));
  app.add_option("--train-subset", c.train_subset, "train on this many images (0 = all)")
      ->check(integer_of<std::int64_t>());
  app.add_option("--test-subset", c.test_subset, "evaluate on this many images (0 = all)")
      ->check(integer_of<std::int64_t>());
  app.add_option("--device", c.device, "cpu, cuda or cuda:N");
  app.add_option("--tf32", c.tf32,
                 "on: TF32 tensor cores for float32 matmul and convolution on CUDA (~10-bit mantissa products, "
                 "PyTorch's cuDNN default); off: full float32")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--deterministic", c.deterministic,
               "CUDA: pick only deterministic cuDNN convolution algorithms, so that a run (and a resumed "
               "run) repeats bit for bit; slower. Default: the fastest, as PyTorch's cudnn.benchmark");
  app.add_option("--threads", c.threads, "CPU threads (0 = all hardware threads; at most 1024)")
      ->check(integer_of<int>());
  app.add_option("--seed", c.seed, "seed of initialisation, shuffling and augmentation (0 to 2^64 - 1)")
      ->check(integer_of<std::uint64_t>());
  app.add_option("--out", c.out, "run directory (default: runs/<timestamp>-<model>)");
  app.add_option("--resume", c.resume,
                 "continue from a checkpoint (its .json, or a run directory); the training settings "
                 "come from the checkpoint, --epochs, --out, --threads, --device, --tf32 from the command line");
  app.add_flag("--no-progress", no_progress, "no progress bar or periodic lines, only epoch summaries");
}

void check_name(bool ok, const char* flag, const std::string& value, const char* expected) {
  PX_CHECK(ok, ValueError, flag, " ", value, ": expected ", expected);
}

}  // namespace

int parse_train_args(int argc, const char* const* argv, TrainConfig& config, std::string& message) {
  CLI::App app{"train_cifar: trains an image classifier (CIFAR-10/100, Fashion-MNIST, image folders) "
               "and writes run.json, metrics.csv, summary.json, checkpoints and plots/ to its run "
               "directory.",
               "train_cifar"};
  bool no_progress = false;
  add_flags(app, config, no_progress);
  return parse_cli(app, argc, argv, message, [&] {
    config.progress = !no_progress;
    for (const CLI::Option* option : app.get_options()) {
      if (option->count() > 0 && !option->get_lnames().empty()) {
        config.explicit_flags.push_back("--" + option->get_lnames()[0]);
      }
    }
    resolve_defaults(config, config.explicit_flags);
    validate_config(config);
  });
}

void validate_config(const TrainConfig& c) {
  check_name(c.epochs >= 1, "--epochs", std::to_string(c.epochs), "at least 1");
  check_name(c.batch_size >= 1, "--batch-size", std::to_string(c.batch_size), "at least 1");
  check_name(c.lr > 0 && std::isfinite(c.lr), "--lr", std::to_string(c.lr), "a positive finite number");
  check_name(c.momentum >= 0 && c.momentum < 1, "--momentum", std::to_string(c.momentum), "in [0, 1)");
  check_name(c.weight_decay >= 0 && std::isfinite(c.weight_decay), "--weight-decay", std::to_string(c.weight_decay),
             "a finite number >= 0");
  check_name(c.warmup_epochs >= 0 && c.warmup_epochs < static_cast<double>(c.epochs),
             "--warmup-epochs", std::to_string(c.warmup_epochs), "in [0, --epochs)");
  check_name(c.step_size > 0 && std::isfinite(c.step_size), "--step-size", std::to_string(c.step_size),
             "a positive finite number");
  check_name(c.train_subset >= 0, "--train-subset", std::to_string(c.train_subset), "at least 0");
  check_name(c.test_subset >= 0, "--test-subset", std::to_string(c.test_subset), "at least 0");
  check_name(c.threads >= 0 && c.threads <= 1024, "--threads", std::to_string(c.threads), "in [0, 1024] (0 = all)");
  check_name(c.gamma > 0 && std::isfinite(c.gamma), "--gamma", std::to_string(c.gamma), "a positive finite number");
  if (c.schedule == "multistep") {
    check_name(!c.milestones.empty(), "--milestones", "(none)", "at least one epoch for --schedule multistep");
  }
  validate_regularization(c);
  try {
    (void)Device::parse(c.device);
  } catch (const px::Error&) {
    check_name(false, "--device", c.device, "cpu, cuda or cuda:N");
  }
}

nlohmann::json config_to_json(const TrainConfig& c) {
  return {{"data", c.data},
          {"dataset", c.dataset},
          {"train_subset", c.train_subset},
          {"test_subset", c.test_subset},
          {"augment", c.augment},
          {"model", c.model},
          {"optimizer", c.optimizer},
          {"lr", c.lr},
          {"momentum", c.momentum},
          {"weight_decay", c.weight_decay},
          {"schedule", c.schedule},
          {"milestones", c.milestones},
          {"step_size", c.step_size},
          {"gamma", c.gamma},
          {"warmup_epochs", c.warmup_epochs},
          {"epochs", c.epochs},
          {"batch_size", c.batch_size},
          {"device", c.device},
          {"tf32", c.tf32},
          {"deterministic", c.deterministic},
          {"threads", c.threads},
          {"seed", c.seed},
          {"out", c.out},
          {"resume", c.resume},
          {"progress", c.progress},
          {"precond", c.precond},
          {"delta", c.delta},
          {"reg", c.reg},
          {"lambda", c.lambda},
          {"lambda_schedule", c.lambda_schedule},
          {"reg_scope", c.reg_scope},
          {"exclude_first_last", c.exclude_first_last},
          {"freeze_epoch", c.freeze_epoch},
          {"warm_start", c.warm_start},
          {"mcp_gamma", c.mcp_gamma},
          {"scad_a", c.scad_a},
          {"group_by", c.group_by},
          {"clip", c.clip},
          {"ties", c.ties},
          {"binary_zero", c.binary_zero},
          {"sigma0", c.sigma0},
          {"sr2_precond", c.sr2_precond},
          {"sr2_eta1", c.sr2_eta1},
          {"sr2_eta2", c.sr2_eta2},
          {"sr2_gamma1", c.sr2_gamma1},
          {"sr2_gamma3", c.sr2_gamma3}};
}

TrainConfig config_from_json(const nlohmann::json& j) {
  TrainConfig c;
  c.data = j.at("data").get<std::string>();
  c.dataset = j.at("dataset").get<std::string>();
  c.train_subset = j.at("train_subset").get<std::int64_t>();
  c.test_subset = j.at("test_subset").get<std::int64_t>();
  c.augment = j.at("augment").get<std::string>();
  c.model = j.at("model").get<std::string>();
  c.optimizer = j.at("optimizer").get<std::string>();
  c.lr = j.at("lr").get<double>();
  c.momentum = j.at("momentum").get<double>();
  c.weight_decay = j.at("weight_decay").get<double>();
  c.schedule = j.at("schedule").get<std::string>();
  c.milestones = j.at("milestones").get<std::vector<double>>();
  c.step_size = j.at("step_size").get<double>();
  c.gamma = j.at("gamma").get<double>();
  c.warmup_epochs = j.at("warmup_epochs").get<double>();
  c.epochs = j.at("epochs").get<std::int64_t>();
  c.batch_size = j.at("batch_size").get<std::int64_t>();
  c.device = j.at("device").get<std::string>();
  c.tf32 = j.value("tf32", std::string("on"));  // absent from older run.json files
  c.deterministic = j.value("deterministic", false);
  c.threads = j.at("threads").get<int>();
  c.seed = j.at("seed").get<std::uint64_t>();
  c.out = j.at("out").get<std::string>();
  c.resume = j.at("resume").get<std::string>();
  c.progress = j.at("progress").get<bool>();
  // Settings added with the proximal methods: absent from older run.json files.
  c.precond = j.value("precond", std::string("adam"));
  c.delta = j.value("delta", -1.0);
  c.reg = j.value("reg", std::string("none"));
  c.lambda = j.value("lambda", 0.0);
  c.lambda_schedule = j.value("lambda_schedule", std::string("constant"));
  c.reg_scope = j.value("reg_scope", std::string("weights"));
  c.exclude_first_last = j.value("exclude_first_last", false);
  c.freeze_epoch = j.value("freeze_epoch", std::int64_t{0});
  c.warm_start = j.value("warm_start", std::string());
  c.mcp_gamma = j.value("mcp_gamma", 3.0);
  c.scad_a = j.value("scad_a", 3.7);
  c.group_by = j.value("group_by", std::string("filters"));
  // Older run.json files: proxgen did not clip; the others' auto resolves as it did.
  c.clip = j.value("clip", c.optimizer == "proxgen" ? 0.0 : -1.0);
  c.ties = j.value("ties", std::string("zero"));
  c.binary_zero = j.value("binary_zero", std::string("plus-one"));
  // SR2's settings (absent from older run.json files).
  const TrainConfig d;
  c.sigma0 = j.value("sigma0", d.sigma0);
  c.sr2_precond = j.value("sr2_precond", d.sr2_precond);
  c.sr2_eta1 = j.value("sr2_eta1", d.sr2_eta1);
  c.sr2_eta2 = j.value("sr2_eta2", d.sr2_eta2);
  c.sr2_gamma1 = j.value("sr2_gamma1", d.sr2_gamma1);
  c.sr2_gamma3 = j.value("sr2_gamma3", d.sr2_gamma3);
  return c;
}

}  // namespace px::apps
