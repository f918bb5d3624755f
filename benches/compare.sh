#!/usr/bin/env bash
# Side-by-side seconds per fit step: cloudfill (`cargo bench --bench step`) and the same network and
# loop in PyTorch (benches/pytorch_step.py, 2 threads), run one after the other on this machine, so
# the figure that matters is the ratio, taken at one moment on one machine.
#
# PyTorch is not a project dependency: `pip install torch numpy` beside the project. Without it the
# table has only the cloudfill column.
#
# Usage: benches/compare.sh [--with-512] [--steps N] [--threads T]
#                           [--cloudfill-output FILE] [--torch-output FILE]
#   --with-512              also 512x512 (CLOUDFILL_BENCH_512=1 for cargo; slow on a CPU adapter)
#   --steps N               timed steps per size on both sides (default 20)
#   --threads T             torch.set_num_threads (default 2)
#   --cloudfill-output FILE parse this saved `cargo bench --bench step` output instead of running it
#   --torch-output FILE     parse this saved pytorch_step.py output instead of running it
set -u -o pipefail
cd "$(dirname "$0")/.."

with512=0 steps=20 threads=2 cf_file="" pt_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --with-512) with512=1 ;;
    --steps) steps="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --cloudfill-output) cf_file="$2"; shift ;;
    --torch-output) pt_file="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cloudfill-compare.XXXXXX")
when=$(date -u '+%Y-%m-%d %H:%M UTC')

# 1. cloudfill
if [ -z "$cf_file" ]; then
  cf_file="$work/cloudfill.txt"
  echo "== cargo bench --bench step (output: $cf_file)" >&2
  if [ "$with512" = 1 ]; then export CLOUDFILL_BENCH_512=1; fi
  CLOUDFILL_BENCH_STEPS="$steps" cargo bench --bench step 2>&1 | tee "$cf_file" >&2 \
    || echo "warning: cargo bench exited non-zero" >&2
fi

# `step 64x64: 0.0312 s/step ...` -> `64 0.0312`; `torch step ...` likewise with prefix "torch ".
parse() { sed -n -E "s/^$1step ([0-9]+)x[0-9]+: ([0-9.eE+-]+) s\/step.*/\1 \2/p" "$2"; }

sizes=$(parse "" "$cf_file" | cut -d' ' -f1 | paste -sd, -)
if [ -z "$sizes" ]; then
  sizes="64,128,256"; [ "$with512" = 1 ] && sizes="$sizes,512"
fi

# 2. PyTorch
note=""
if [ -z "$pt_file" ]; then
  pt_file="$work/pytorch.txt"
  if python3 -c 'import torch' 2>/dev/null; then
    echo "== python3 benches/pytorch_step.py --sizes $sizes --threads $threads (output: $pt_file)" >&2
    python3 benches/pytorch_step.py --sizes "$sizes" --threads "$threads" --steps "$steps" \
      2>&1 | tee "$pt_file" >&2 || note="pytorch_step.py failed: see $pt_file"
  else
    : >"$pt_file"
    note="PyTorch not installed (pip install torch numpy, outside the project): cloudfill column only"
  fi
fi

# 3. table
adapter=$(sed -n -E 's/^adapter: //p' "$cf_file" | head -n1)
cpu=$(sed -n -E 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)
torch_hdr=$(grep -m1 -E '^torch [0-9]' "$pt_file" | cut -d, -f1)
echo "### cloudfill vs PyTorch, seconds per fit step"
echo
echo "- date: $when; nproc: $(nproc); CPU: ${cpu:-$(uname -m)}"
echo "- cloudfill adapter: ${adapter:-(no adapter line found)}"
echo "- PyTorch: ${torch_hdr:-(not run)}, threads $threads, median of $steps steps (cloudfill: mean over its pipelined timed steps)"
[ -n "$note" ] && echo "- note: $note"
echo
echo "| size | cloudfill s/step | PyTorch s/step | ratio (cloudfill/PyTorch) |"
echo "|---|---|---|---|"
awk 'FILENAME == ARGV[1] { pt[$1] = $2; next }
     { t = ($1 in pt) ? pt[$1] : "-"
       r = ($1 in pt && pt[$1] > 0) ? sprintf("%.2f", $2 / pt[$1]) : "-"
       printf "| %sx%s | %s | %s | %s |\n", $1, $1, $2, t, r; seen[$1] = 1 }
     END { for (s in pt) if (!(s in seen)) printf "| %sx%s | - | %s | - |\n", s, s, pt[s] }' \
  <(parse "torch " "$pt_file") <(parse "" "$cf_file")
echo
echo "raw outputs: $cf_file, $pt_file"
rmdir "$work" 2>/dev/null || true
