#!/bin/sh
# PathProx versus weight-decay SGD on 1,000 Fashion-MNIST images (100 per class) with the factorised
# MLP (ALGORITHMS.md §6.4 settings: lambda 1e-4, batch 200, momentum 0, constant lr; lr 0.1, since the
# paper's 0.3 diverges to NaN within 250 iterations for both methods here, LR=0.3 to see it), 20,000
# iterations each, logged every 250; writes docs/experiments/pathprox_fmnist/{pathprox,wd}.csv, .log and
# {objective,active_units}.svg (docs/pathprox.md).
#   BUILD=build sh docs/experiments/pathprox_fmnist.sh        # after building the pathprox_study target
set -e
BUILD=${BUILD:-build}
OUT=${OUT:-docs/experiments/pathprox_fmnist}
ITERS=${ITERS:-20000}
LR=${LR:-0.1}
BIN="$BUILD/bench/pathprox_study"
COMMON="--out $OUT --iters $ITERS --log-every 250 --test-every 2500 --lr $LR --lambda 1e-4 --batch 200 --per-class 100 --seed 4242 --threads 1"
# The two methods run side by side, one thread each.
mkdir -p "$OUT"
nice -n 5 "$BIN" --method pathprox $COMMON > "$OUT/pathprox.log" 2>&1 &
nice -n 5 "$BIN" --method wd $COMMON > "$OUT/wd.log" 2>&1 &
wait
"$BIN" --method plot $COMMON
tail -n 2 "$OUT/pathprox.log" "$OUT/wd.log"
