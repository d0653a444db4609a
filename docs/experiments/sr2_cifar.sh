#!/usr/bin/env bash
# SR2 versus ProxGen and ProxSGD with l1 and l0 on CIFAR-10 (issue 6; docs/sr2.md): six train_cifar
# runs of one small network, then one markdown table of test accuracy, sparsity and objective.
#
# Usage (from the repository root, after building train_cifar):
#   docs/experiments/sr2_cifar.sh                       # the experiment: lenet5, 20 epochs, all data
#   EPOCHS=1 TRAIN_SUBSET=2000 TEST_SUBSET=1000 docs/experiments/sr2_cifar.sh   # smoke run
# Settings (environment): BIN (train_cifar), DATA (an image folder with train/ and test/), MODEL
# (lenet5; mlp works too), EPOCHS (>= 20 for the experiment), TRAIN_SUBSET / TEST_SUBSET (0 = all),
# SEED, THREADS (0 = all), OUT (runs and table.md), LAMBDA_L1 / LAMBDA_L0 (empty: each method's
# default lambda, printed in the table; set them to compare every method on the same objective).
# Each method keeps its own defaults otherwise: sr2 sigma0 by power iteration and the official
# code's eta/gamma, proxgen Adam lr 1e-3, proxsgd epsilon0 0.06 (docs/proximal.md, docs/sr2.md).
set -euo pipefail

BIN=${BIN:-build/apps/train_cifar}
DATA=${DATA:-datasets/cifar10-jpg}
MODEL=${MODEL:-lenet5}
EPOCHS=${EPOCHS:-20}
TRAIN_SUBSET=${TRAIN_SUBSET:-0}
TEST_SUBSET=${TEST_SUBSET:-0}
SEED=${SEED:-0}
THREADS=${THREADS:-0}
OUT=${OUT:-runs/sr2_cifar}
LAMBDA_L1=${LAMBDA_L1:-}
LAMBDA_L0=${LAMBDA_L0:-}

[[ -x "$BIN" ]] || { echo "sr2_cifar.sh: $BIN not found; build train_cifar or set BIN" >&2; exit 2; }
[[ -d "$DATA/train" && -d "$DATA/test" ]] || { echo "sr2_cifar.sh: $DATA needs train/ and test/" >&2; exit 2; }
mkdir -p "$OUT"

for reg in l1 l0; do
  lambda_var="LAMBDA_${reg^^}"
  for method in sr2 proxgen proxsgd; do
    run="$OUT/$method-$reg"
    args=(--data "$DATA" --model "$MODEL" --optimizer "$method" --reg "$reg" --epochs "$EPOCHS"
          --train-subset "$TRAIN_SUBSET" --test-subset "$TEST_SUBSET" --seed "$SEED" --threads "$THREADS"
          --no-progress --out "$run")
    [[ -n "${!lambda_var}" ]] && args+=(--lambda "${!lambda_var}")
    echo "== $method $reg: $BIN ${args[*]}"
    rm -rf "$run"
    "$BIN" "${args[@]}" 2>&1 | tail -n 3
  done
done

/usr/bin/python3 - "$OUT" "$MODEL" "$EPOCHS" <<'PY'
import csv, json, os, sys
out, model, epochs = sys.argv[1], sys.argv[2], sys.argv[3]
rows = ["| method | R | lambda | final test acc | best test acc | sparsity (exact zeros, regularised weights) "
        "| objective (train loss + lambda R) | sigma (last epoch) | rejected steps | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|"]
for reg in ("l1", "l0"):
    for method in ("sr2", "proxgen", "proxsgd"):
        run = os.path.join(out, f"{method}-{reg}")
        s = json.load(open(os.path.join(run, "summary.json")))
        last = list(csv.DictReader(open(os.path.join(run, "metrics.csv"))))[-1]
        rejected = sum(int(float(r["rejected"])) for r in csv.DictReader(open(os.path.join(run, "metrics.csv")))) \
            if "rejected" in last else None
        rows.append(f"| {method} | {reg} | {float(last['lambda']):.3g} | {100 * s['final_test_acc']:.2f}% "
                    f"| {100 * s['best_test_acc']:.2f}% | {100 * s['sparsity']:.2f}% | {s['objective']:.4f} "
                    f"| {float(last['sigma']):.4g} | {rejected} | {s['total_seconds']:.0f} |"
                    if "sigma" in last else
                    f"| {method} | {reg} | {float(last['lambda']):.3g} | {100 * s['final_test_acc']:.2f}% "
                    f"| {100 * s['best_test_acc']:.2f}% | {100 * s['sparsity']:.2f}% | {s['objective']:.4f} "
                    f"| - | - | {s['total_seconds']:.0f} |")
table = f"CIFAR-10, {model}, {epochs} epochs\n\n" + "\n".join(rows) + "\n"
open(os.path.join(out, "table.md"), "w").write(table)
print(table)
PY
