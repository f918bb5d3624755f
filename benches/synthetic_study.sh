#!/usr/bin/env bash
# The time-to-result study on the built-in synthetic scenes (BENCHMARKS.md §11): for each seed
# (a new scene and new networks each), `cloudfill demo` with the reference flow (one network,
# 4000 steps), the default ensemble of 4 with the stopping rule, and one network with the rule;
# then a table of cloud PSNR/SSIM, steps, kept steps, wall time and the uncertainty's Spearman.
#
# Usage: benches/synthetic_study.sh [--size N] [--seeds "0 1 2"] [--dir DIR] [--bin CLOUDFILL]
#   --size N        scene side (default 64; demo's own default is 128)
#   --seeds LIST    scene and network seeds (default "0 1 2")
#   --dir DIR       where each run's folder and log go (default target/synthetic_study)
#   --bin PATH      the cloudfill binary (default target/release/cloudfill, built if missing)
# A run whose log already has its result is not run again (the study resumes).
set -u -o pipefail
cd "$(dirname "$0")/.."

size=64 seeds="0 1 2" dir=target/synthetic_study bin=target/release/cloudfill
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift ;;
    --seeds) seeds="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --bin) bin="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || cargo build --release --bin cloudfill || exit 1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

declare -A modes=(
  [reference]="--reference --steps 4000"
  [ensemble4]="--ensemble 4 --steps 4000"
  [ensemble1]="--ensemble 1 --steps 4000"
)
for s in $seeds; do
  for m in reference ensemble4 ensemble1; do
    d="$dir/s${s}_$m"
    if grep -qs 'PSNR in the cloud' "$d/log"; then continue; fi
    mkdir -p "$d"
    # shellcheck disable=SC2086
    "$bin" demo --size "$size" --seed "$s" ${modes[$m]} --out-dir "$d" --overwrite \
      >"$d/log" 2>&1 || { echo "failed: $d (see $d/log)" >&2; exit 1; }
  done
done

printf '| seed | run | cloud PSNR | cloud SSIM | steps (kept) | wall s | Spearman |\n|---|---|---:|---:|---:|---:|---:|\n'
for s in $seeds; do
  for m in reference ensemble4 ensemble1; do
    log="$dir/s${s}_$m/log"
    psnr=$(sed -n 's/^PSNR in the cloud: \([0-9.]*\) dB.*/\1/p' "$log")
    ssim=$(sed -n 's/.*SSIM in the cloud \([0-9.]*\) .*/\1/p' "$log")
    secs=$(sed -n 's/.*); \([0-9.]*\) s, .*/\1/p' "$log")
    # every run's maximum is 4000 steps; a stopped one says where it stopped
    stopped=$(sed -n 's/.*stopped at step \([0-9]*\).*/\1/p' "$log")
    steps=${stopped:-4000}
    kept=$(sed -n 's/.*best[a-z -]* check, step \([0-9]*\).*/\1/p' "$log")
    rho=$(sed -n 's/.*Spearman \([0-9.-]*\).*/\1/p' "$log")
    echo "| $s | $m | $psnr | $ssim | $steps${kept:+ ($kept)} | $secs | ${rho:--} |"
  done
done
