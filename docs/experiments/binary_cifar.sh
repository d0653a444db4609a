#!/usr/bin/env bash
# Binary ResNet-20 on CIFAR-10, short: ProxQuant, revised ProxQuant (ProxGen with the same binary
# regulariser, homotopy and clip: only the metric of the prox differs) and BinaryConnect, each
# warm-started from the same full-precision run (docs/proximal.md, "Binary networks").
# Prints one markdown table: final test accuracy of the real-valued weights, hard-binarised test
# accuracy (regularised weights replaced by their signs), fraction of weights at exactly +-1.
#
# Usage (from the repository root, after building train_cifar and extracting the CIFAR-10 JPEGs):
#   docs/experiments/binary_cifar.sh                    # FP 5 epochs, then 4 epochs per method
#   FP_EPOCHS=1 EPOCHS=1 TRAIN_SUBSET=2000 TEST_SUBSET=1000 docs/experiments/binary_cifar.sh  # smoke
#   FP_DIR=runs/binary_cifar/fp EPOCHS=8 FREEZE_EPOCH=6 OUT=runs/binary_frozen docs/experiments/binary_cifar.sh
#                                                       # the two ProxQuants frozen to signs after 6 of 8 epochs
# Settings (environment): BIN, DATA, OUT, FP_EPOCHS, EPOCHS, TRAIN_SUBSET, TEST_SUBSET, SEED,
# THREADS, LAMBDA (the homotopy rate of all three binary runs' lambda; default 1e-4 as ProxQuant's
# scripts), FREEZE_EPOCH (0: no freeze; E: the two ProxQuants set their regularised weights to
# their signs after epoch E and train the rest), FP_DIR (reuse this finished full-precision run
# instead of training one).
set -euo pipefail

BIN=${BIN:-build/apps/train_cifar}
DATA=${DATA:-datasets/cifar10-jpg}
OUT=${OUT:-runs/binary_cifar}
FP_EPOCHS=${FP_EPOCHS:-5}
EPOCHS=${EPOCHS:-4}
TRAIN_SUBSET=${TRAIN_SUBSET:-0}
TEST_SUBSET=${TEST_SUBSET:-0}
SEED=${SEED:-0}
THREADS=${THREADS:-0}
LAMBDA=${LAMBDA:-1e-4}
FREEZE_EPOCH=${FREEZE_EPOCH:-0}
FP_DIR=${FP_DIR:-}

[ -x "$BIN" ] || { echo "binary_cifar.sh: $BIN not built" >&2; exit 1; }
[ -d "$DATA/train" ] || { echo "binary_cifar.sh: $DATA needs train/ and test/ (extract cifar10-jpg.tar.gz)" >&2; exit 1; }
mkdir -p "$OUT"
common=(--data "$DATA" --model resnet20 --train-subset "$TRAIN_SUBSET" --test-subset "$TEST_SUBSET"
        --seed "$SEED" --threads "$THREADS" --no-progress)

run() {  # run NAME ARGS...: a fresh run directory $OUT/NAME
  local name=$1; shift
  rm -rf "${OUT:?}/$name"
  echo "== $name: $BIN ${common[*]} $*"
  "$BIN" "${common[@]}" "$@" --out "$OUT/$name" 2>&1 | tail -n 2
}

if [ -n "$FP_DIR" ]; then
  [ -f "$FP_DIR/summary.json" ] || { echo "binary_cifar.sh: FP_DIR=$FP_DIR holds no finished run" >&2; exit 1; }
  fp=$FP_DIR
else
  run fp --epochs "$FP_EPOCHS" --optimizer sgd --lr 0.1 --momentum 0.9 --weight-decay 5e-4 --schedule cosine
  fp=$OUT/fp
fi
freeze=(--freeze-epoch "$FREEZE_EPOCH")
run proxquant --epochs "$EPOCHS" --optimizer proxquant --lambda "$LAMBDA" "${freeze[@]}" --warm-start "$fp"
run revised --epochs "$EPOCHS" --optimizer proxgen --reg bin-l1 --lambda "$LAMBDA" "${freeze[@]}" --warm-start "$fp"
run binaryconnect --epochs "$EPOCHS" --optimizer binaryconnect --warm-start "$fp"

{
  echo "| run | epochs | test acc (real weights) | hard-binarised test acc | weights at +-1 | seconds |"
  echo "|---|---:|---:|---:|---:|---:|"
  for name in fp proxquant revised binaryconnect; do
    dir=$OUT/$name
    [ "$name" = fp ] && dir=$fp
    /usr/bin/python3 - "$dir/summary.json" "$name" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
pct = lambda key: f"{100 * s[key]:.2f}%" if key in s else "-"
print(f"| {sys.argv[2]} | {s['epochs']} | {pct('final_test_acc')} | {pct('binarized_test_acc')} | "
      f"{pct('binary_fraction')} | {s['total_seconds']:.0f} |")
PY
  done
} | tee "$OUT/table.md"
