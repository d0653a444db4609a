// TrainConfig: every setting of a train_cifar run, its command-line flags, and its JSON form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace px::apps {

// The effective configuration of one training run. Defaults are the documented defaults of
// train_cifar; "" / 0 mean "decide from the data" where the comment says so.
struct TrainConfig {
  // data
  std::string data;                  // "" = Fashion-MNIST from kDefaultDataDir
  std::string dataset = "auto";      // auto, cifar10, cifar100, cifar100-coarse, folder, idx ...
  std::int64_t train_subset = 0;     // 0 = whole training set
  std::int64_t test_subset = 0;      // 0 = whole test set
  std::string augment = "auto";      // auto | none | standard | cutout (auto: standard for 32x32 RGB)
  // model and optimisation
  std::string model = "mlp";
  std::string optimizer = "sgd";     // sgd | adam | adamw | adagrad | rmsprop, or a proximal method:
                                     // proxgen | proxsgd | proxquant | binaryconnect | subgrad-adam | subgrad-sgd,
                                     // or pathprox (models with homogeneous units; --lambda, no --reg)
  double lr = 0.05;                  // parse_train_args: the optimizer's default when --lr is not given
  double momentum = 0.9;             // parse_train_args: 0 when not given for rmsprop, pathprox and
                                     // proxgen --precond adagrad|rmsprop (their documented defaults)
  double weight_decay = 5e-4;        // parse_train_args: 0 for the proximal methods when not given
  // regularisation (the proximal methods; docs/proximal.md)
  std::string precond = "adam";      // proxgen: none | adam | adagrad | rmsprop
  double delta = -1;                 // < 0: the preconditioner's default
  std::string reg = "auto";          // auto: l1 (proxgen, proxsgd, subgrad-*), bin-l1 (proxquant,
                                     // binaryconnect), none (classic optimizers); resolved by parse
  double lambda = -1;                // < 0: the regulariser's default (default_lambda)
  std::string lambda_schedule = "auto";  // constant | warmup:E | homotopy; auto: homotopy for proxquant
                                         // and proxgen with bin-* (revised ProxQuant), constant otherwise
  std::string reg_scope = "weights"; // weights (conv/linear weights, ndim 2 or 4) | all
  bool exclude_first_last = false;   // leave the first and last regularised weight tensors out
  std::int64_t freeze_epoch = 0;     // binary regularisers: sign and freeze after this many epochs
  std::string warm_start;            // model weights to start from (.safetensors, checkpoint or run dir)
  double mcp_gamma = 3.0;            // MCP's gamma (Zhang 2010)
  double scad_a = 3.7;               // SCAD's a (Fan & Li 2001)
  std::string group_by = "filters";  // group lasso: rows | columns | filters | channels | whole (filters = rows: dim 0)
  double clip = -1;                  // box [-clip, clip] after each step of the regularised weights; 0: none;
                                     // < 0: auto (1 for proxquant, binaryconnect and proxgen with bin-*; else none)
  std::string ties = "zero";         // zero | keep: the prox at an exact tie (ALGORITHMS.md conventions 3)
  std::string binary_zero = "plus-one";  // bin-*: plus-one | keep-zero (ProxQuant's code) | literal (conventions 4)
  // SR2 (--optimizer sr2; docs/sr2.md). Its momentum beta is --momentum; it has no lr.
  double sigma0 = 0;                 // > 0: the initial sigma; 0: |top Hessian eigenvalue| of the first minibatch
  std::string sr2_precond = "none";  // none | adam | andrei: D = sigma + that diagonal
  double sr2_eta1 = 7.5e-4;          // accept when rho >= eta1 (defaults: the official main.py's)
  double sr2_eta2 = 0.999;           // sigma *= gamma3 when rho >= eta2
  double sr2_gamma1 = 5.57;          // sigma *= gamma1 on a rejection
  double sr2_gamma3 = 0.79;
  std::string schedule = "cosine";   // constant | step | multistep | cosine
  std::vector<double> milestones;    // multistep: epochs where the lr is multiplied by gamma
  double step_size = 30;             // step: epochs between decays
  double gamma = 0.1;                // decay factor of step and multistep
  double warmup_epochs = 0;
  std::int64_t epochs = 10;         // about 35 s for the mlp on Fashion-MNIST on 2 cores (89.7%)
  std::int64_t batch_size = 128;
  // run
  std::string device = "cpu";        // cpu | cuda | cuda:N
  bool deterministic = false;        // CUDA: deterministic cuDNN algorithms (reproducible runs)
  std::string tf32 = "on";           // on | off: TF32 tensor cores for float32 matmul/conv on CUDA
  int threads = 0;                   // 0 = all hardware threads
  std::uint64_t seed = 0;
  std::string out;                   // "" = runs/<timestamp>-<model>
  std::string resume;                // checkpoint JSON (or run directory) to continue from
  bool progress = true;              // live bar / periodic lines
  // Flags given on the command line (e.g. "--lr"), filled by parse_train_args; not saved.
  // A resumed run takes its training settings from the checkpoint and refuses explicit ones
  // that differ.
  std::vector<std::string> explicit_flags;
};

inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kProximaVersion =
#ifdef PX_VERSION
    PX_VERSION;
#else
    "0.1.0";
#endif

// Parses train_cifar's command line into `config`. Returns -1 when training should go on;
// otherwise the process exit code: 0 after --help, 2 after a bad flag (a one-line message,
// naming the problem, is then in `message`; for --help it holds the help text).
int parse_train_args(int argc, const char* const* argv, TrainConfig& config, std::string& message);

// Checks values that the flag parser cannot (ranges, names); throws px::ValueError naming
// the flag, the value and what is expected.
void validate_config(const TrainConfig& config);

// The optimizer names --optimizer accepts (classic, then proximal).
std::vector<std::string> train_optimizer_names();
bool is_proximal_method(const std::string& optimizer);
// True for the ProxQuant family "bin-l1", "bin-l12", "bin-l23", "bin-l0".
bool is_binary_regularizer(const std::string& reg);
// The default --lambda of a regulariser spec (documented in --help), chosen so that ProxGen-Adam
// on the default MLP gives a genuinely sparse network at near-dense accuracy in 3 epochs.
double default_lambda(const std::string& reg, const std::string& optimizer);
// Fills the settings left to "auto" / unset (lr, weight decay, reg, lambda, lambda schedule) from
// the optimizer and regulariser; `given(flag)` says whether a flag was on the command line.
// Also calls resolve_auto.
void resolve_defaults(TrainConfig& config, const std::vector<std::string>& explicit_flags);
// Fills only the fields still "auto" or negative (reg, lambda, lambda schedule), for configs built in
// code (run_training calls it).
void resolve_auto(TrainConfig& config);
// The regularisation settings' checks (part of validate_config): names, ranges, combinations.
void validate_regularization(const TrainConfig& config);

nlohmann::json config_to_json(const TrainConfig& config);
TrainConfig config_from_json(const nlohmann::json& json);

}  // namespace px::apps
