#!/usr/bin/env bash
# Time to a result on the real sample (issue 12, target 2), one after the other on this machine:
# the PyTorch reference's 4000 steps (its step time from benches/pytorch_step.py at the sample's
# size, times 4000: the reference loop is its steps), then `cloudfill inpaint --ensemble 1`
# (one network, --stop auto) and the default `cloudfill inpaint` (an ensemble, --stop auto),
# each timed end to end (reading the inputs and writing the output included). Prints the wall
# times, the cloud PSNR and the ratios to the PyTorch reference.
#
# Needs ../shared/data (the sample) and PyTorch beside the project (pip install torch numpy).
# Usage: benches/time_to_result.sh [--seed S] [--torch-steps N] [--threads T] [--window X,Y,W,H] [--only one|default]
#   --seed S          cloudfill's seed (default 0)
#   --torch-steps N   PyTorch steps timed for its step time (default 20)
#   --threads T       torch.set_num_threads (default 2, the cores of the CI machines)
#   --window X,Y,W,H  a window of the sample instead of the whole 256² scene
#   --only one|default  run only the --ensemble 1 or only the default stage
set -u -o pipefail
cd "$(dirname "$0")/.."

seed=0 tsteps=20 threads=2 window="" only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed="$2"; shift ;;
    --torch-steps) tsteps="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --window) window="$2"; shift ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done
D=../shared/data
[ -f "$D/2019_mean.npy" ] || { echo "no sample at $D" >&2; exit 1; }
python3 -c 'import torch' 2>/dev/null || { echo "PyTorch is not installed (pip install torch numpy)" >&2; exit 1; }
cargo build --release --bin cloudfill >&2 || exit 1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
work=$(mktemp -d "${TMPDIR:-/tmp}/cloudfill-ttr.XXXXXX")
size=256 win=()
if [ -n "$window" ]; then
  size=$(echo "$window" | cut -d, -f3)
  win=(--window "$window")
fi

echo "== PyTorch: benches/pytorch_step.py --sizes $size --threads $threads --steps $tsteps" >&2
python3 benches/pytorch_step.py --sizes "$size" --threads "$threads" --steps "$tsteps" >"$work/torch.txt" 2>&1 \
  || { cat "$work/torch.txt" >&2; exit 1; }
tstep=$(sed -n -E "s/^torch step ${size}x${size}: ([0-9.eE+-]+) s\/step.*/\1/p" "$work/torch.txt")
tref=$(awk -v s="$tstep" 'BEGIN { printf "%.1f", 4000 * s }')

run() { # file name, label, extra args...
  local name=$1 label=$2; shift 2
  echo "== cloudfill inpaint $* (seed $seed)" >&2
  local t0 t1
  t0=$(date +%s.%N)
  target/release/cloudfill inpaint --target $D/2019_mean.npy --mask $D/mask.npy --s1 $D/s1.tif \
    "${win[@]}" --truth $D/2019_mean.npy --seed "$seed" --out "$work/$name.npy" \
    --metrics-json "$work/$name.json" --quiet "$@" >&2 || exit 1
  t1=$(date +%s.%N)
  local wall psnr done rho
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  psnr=$(python3 -c "import json; print(round(json.load(open('$work/$name.json'))['metrics']['psnr_cloud'], 2))")
  rho=$(python3 -c "import json; r = json.load(open('$work/$name.json')).get('fit', {}).get('uncertainty_spearman_cloud'); print('-' if r is None else round(r, 2))")
  done=$(python3 -c "import json; j = json.load(open('$work/$name.json')); f = j.get('fit') or {}; print(f\"{f.get('steps_done', j['steps'])} (kept {f.get('kept_step')})\")")
  awk -v n="$label" -v w="$wall" -v r="$tref" -v p="$psnr" -v d="$done" -v s="$rho" \
    'BEGIN { printf "| %s | %s | %s | %s | %.1f | %.2f |\n", n, d, p, s, w, w / r }' >>"$work/table.txt"
}
[ "$only" != default ] && run one "--ensemble 1" --ensemble 1
[ "$only" != one ] && run default "default (an ensemble)" --uncertainty "$work/default.sigma.npy"

cpu=$(sed -n -E 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)
echo "### Time to a result, ${size}² sample, seed $seed ($(date -u '+%Y-%m-%d %H:%M UTC'); nproc $(nproc); ${cpu:-})"
echo
echo "- PyTorch $(grep -m1 -E '^torch [0-9]' "$work/torch.txt" | cut -d, -f1): $tstep s/step (median of $tsteps), × 4000 = **$tref s**"
echo
echo "| cloudfill | steps | cloud PSNR | σ Spearman | wall s | / PyTorch 4000 steps |"
echo "|---|---:|---:|---:|---:|---:|"
cat "$work/table.txt"
echo
echo "raw outputs: $work"
