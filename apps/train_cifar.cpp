// train_cifar: trains an image classifier and leaves a run directory (see apps/common/trainer.h).
//
//   ./train_cifar                                   # mlp on Fashion-MNIST (Debian package)
//   ./train_cifar --data datasets/cifar10-jpg --model resnet20 --lr 0.1 --epochs 10
//   ./train_cifar --resume runs/<run>/              # continue a stopped run exactly
//
// Exit codes: 0 done, 1 internal error or outputs that cannot be written, 2 bad flags or bad data,
// 3 loss (training or test) became NaN/inf.
#include <cstdio>
#include <exception>
#include <string>

#include "common/config.h"
#include "common/trainer.h"

int main(int argc, char** argv) {
  px::apps::TrainConfig config;
  std::string message;
  const int parsed = px::apps::parse_train_args(argc, argv, config, message);
  if (parsed == 0) {
    std::fputs(message.c_str(), stdout);
    return 0;
  }
  if (parsed > 0) {
    std::fprintf(stderr, "train_cifar: error: %s\n", message.c_str());
    return parsed;
  }
  try {
    px::apps::run_training(config);
    return 0;
  } catch (const px::apps::TrainError& e) {
    std::fprintf(stderr, "train_cifar: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_cifar: internal error: %s\n", e.what());
    return 1;
  }
}
