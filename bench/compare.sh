#!/usr/bin/env bash
# Side-by-side benchmarks of the stackhook binary (issues 11 and 21), not part of
# CI. Installs its comparison tools itself, in a temp dir: hyperfine (cargo
# install), just (the rust-just wheel) and go-task (the go-task-bin wheel).
#
#   bench/compare.sh [STACKHOOK_BINARY] [BASELINE_BINARY]
#   ONLY=NAME bench/compare.sh ...   # one comparison (e.g. validate-10000)
#
# Without a binary it builds target/release/stackhook. With a second
# binary (an older build), each stackhook row is measured for it too.
# ROUNDS (default 5) rounds of each comparison are run, alternating the
# commands; a ratio is the median of the per-round ratios of medians
# ("paired medians"), which keeps a busy machine's drift out of ratios.
# BENCH_TOOLS=DIR reuses an install of the tools.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-}
base=${2:-}
rounds=${ROUNDS:-5}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release --quiet)
  bin=$root/target/release/stackhook
fi
bin=$(realpath "$bin")
[ -z "$base" ] || base=$(realpath "$base")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tools=${BENCH_TOOLS:-$work/tools}

# --- tools -----------------------------------------------------------------
if [ ! -x "$tools/bin/hyperfine" ]; then
  echo "installing hyperfine into $tools" >&2
  cargo install --locked --quiet hyperfine@1.20.0 --root "$tools"
fi
if [ ! -x "$tools/venv/bin/just" ] || [ ! -x "$tools/venv/bin/task" ]; then
  echo "installing just and go-task into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check rust-just go-task-bin
fi
hyperfine=$tools/bin/hyperfine
just=$tools/venv/bin/just
task=$tools/venv/bin/task

# --- workloads ---------------------------------------------------------------
cd "$work"
mkdir -p tmp kube fakebin
export TMPDIR=$work/tmp KUBECONFIG=$work/kube/config HOME=$work
export GKE_CLUSTER_NAME=prod GKE_CLUSTER_REGION=europe-west1 GCP_PROJECT_NAME=acme
export GOOGLE_OAUTH_ACCESS_TOKEN=ya29.bench-token
for tool in gcloud kubectl; do printf '#!/bin/sh\nexit 0\n' > "fakebin/$tool"; chmod +x "fakebin/$tool"; done
export PATH=$work/fakebin:$PATH

{ echo "version: 1"; echo "steps:"
  for i in $(seq 10); do echo "  - {provider: run, name: s$i, with: {commands: ['true']}}"; done
} > ten.yaml
{ echo "#!/bin/sh"; for _ in $(seq 10); do echo "sh -c true"; done; } > ten.sh
{ echo "ten:"; for _ in $(seq 10); do echo "    true"; done
  echo; echo "plan:"; echo "    gcloud container clusters get-credentials prod --region europe-west1 --project acme"
} > justfile
{ echo "version: '3'"; echo "tasks:"; echo "  ten:"; echo "    cmds:"
  for _ in $(seq 10); do echo "      - 'true'"; done
  echo "  plan:"; echo "    cmds:"
  echo "      - gcloud container clusters get-credentials prod --region europe-west1 --project acme"
} > Taskfile.yml
cat > lines.yaml <<'EOF'
version: 1
steps:
  - {provider: run, name: seq, with: {commands: ['seq 200000']}}
EOF
cp "$root/specs/gke-region.yaml" gke.yaml
# The shipped specs that every binary measured accepts (a baseline may
# predate some of them).
mkdir specs1000 valid
for s in "$root"/specs/*.yaml; do
  if "$bin" validate "$s" 2>/dev/null && { [ -z "$base" ] || "$base" validate "$s" 2>/dev/null; }; then
    cp "$s" valid/
  fi
done
n=0
while [ $n -lt 1000 ]; do
  for s in valid/*.yaml; do
    [ $n -lt 1000 ] || break
    cp "$s" "specs1000/$n-$(basename "$s")"; n=$((n + 1))
  done
done
mkdir specs10000
n=0
while [ $n -lt 10000 ]; do
  for s in valid/*.yaml; do
    [ $n -lt 10000 ] || break
    cp "$s" "specs10000/$n-$(basename "$s")"; n=$((n + 1))
  done
done
# A spec over a base (issue 21), and the same merged by hand.
mkdir base
cp "$root/tests/specs/extends/base/gke.yaml" base/
cp "$root/tests/specs/extends/prod.yaml" "$root/tests/specs/extends/prod-flat.yaml" .
{ echo "version: 1"; echo "steps:"
  for i in $(seq 1000); do echo "  - {provider: run, name: s$i, with: {commands: ['echo step $i']}}"; done
} > steps1000.yaml
extra=$(for i in $(seq 200); do printf 'EXTRA_VARIABLE_%s=value-%s ' "$i" "$i"; done)

# --- measuring --------------------------------------------------------------
# compare NAME LABEL CMD [LABEL CMD]...: ROUNDS rounds of hyperfine over
# all commands; prints each command's median and its ratio to the first
# command (paired medians).
compare() {
  local name=$1; shift
  [ -z "${ONLY:-}" ] || [ "$name" = "$ONLY" ] || return 0
  local args=()
  while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
  for r in $(seq "$rounds"); do
    "$hyperfine" -N --warmup 3 --min-runs 20 --style none \
      --export-json "$work/$name.$r.json" "${args[@]}" > /dev/null 2>&1
  done
  python3 - "$name" "$rounds" "$work" <<'PY'
import json, statistics, sys
name, rounds, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [json.load(open(f"{work}/{name}.{r}.json"))["results"] for r in range(1, rounds + 1)]
print(f"\n## {name}")
print(f"{'command':<44} {'median':>10} {'ratio':>7}")
for i, res in enumerate(runs[0]):
    med = statistics.median(statistics.median(rr[i]["times"]) for rr in runs)
    ratio = statistics.median(
        statistics.median(rr[i]["times"]) / statistics.median(rr[0]["times"]) for rr in runs)
    print(f"{res['command']:<44} {med * 1000:>8.2f}ms {ratio:>6.2f}x")
PY
}

# Rows for the binary under test, and for the baseline binary if given.
both() {
  local label=$1 cmd=$2
  printf '%s\n%s\n' "$label" "${cmd//@BIN@/$bin}"
  if [ -n "$base" ]; then printf '%s\n%s\n' "$label (baseline)" "${cmd//@BIN@/$base}"; fi
}
rows() { local out=(); while IFS= read -r l; do out+=("$l"); done; printf '%s\0' "${out[@]}"; }
run_compare() {
  local name=$1; shift
  [ -z "${ONLY:-}" ] || [ "$name" = "$ONLY" ] || return 0
  local list=()
  while IFS= read -r -d '' x; do list+=("$x"); done
  compare "$name" "$@" "${list[@]}"
}

both "stackhook run (10 steps)" "@BIN@ run --quiet ten.yaml" | rows |
  run_compare run-10-steps "sh script (sh -c true x10)" "sh ten.sh" \
    "just (10 lines)" "$just ten" "go-task (10 cmds)" "$task ten"
both "stackhook run (seq 200000)" "@BIN@ run lines.yaml" | rows |
  run_compare lines-200k "sh -c 'seq 200000'" "sh -c 'seq 200000'"
# The secret is in the environment of every command of the comparison, so
# that no row pays for an extra `env` exec (0.5 ms).
export MY_TOKEN=secret-value-1
both "stackhook run (seq 200000, secret)" "@BIN@ run lines.yaml" | rows |
  run_compare lines-200k-secret "sh -c 'seq 200000'" "sh -c 'seq 200000'"
unset MY_TOKEN
both "stackhook plan (gke-region)" "@BIN@ plan gke.yaml" | rows |
  run_compare plan-shipped "just --dry-run" "$just --dry-run plan" "go-task --dry" "$task --dry plan"
both "stackhook validate (1,000 specs)" "@BIN@ validate specs1000" | rows |
  run_compare validate-1000
both "stackhook validate (10,000 specs)" "@BIN@ validate specs10000" | rows |
  run_compare validate-10000
# Only the binary under test: a baseline may not know `extends`.
compare plan-extends "plan (the spec merged by hand)" "$bin plan prod-flat.yaml" \
  "plan (extends: a base)" "$bin plan prod.yaml"
both "stackhook plan (1,000 steps)" "@BIN@ plan steps1000.yaml" | rows |
  run_compare plan-1000-steps
for b in "$bin" ${base:+"$base"}; do
  # Both through `env`, so that the ratio is the variables' alone.
  compare "plan-1000-steps-env-$(basename "$b")" "plan (1,000 steps)" "env $b plan steps1000.yaml" \
    "plan (1,000 steps, +200 vars)" "env $extra $b plan steps1000.yaml"
done

echo
echo "## peak RSS (GNU time -v, KiB)"
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
for b in "$bin" ${base:+"$base"}; do
  echo "$b"
  echo "  plan gke-region:      $(rss "$b" plan gke.yaml)"
  echo "  run 10 steps:         $(rss "$b" run --quiet ten.yaml)"
  echo "  plan 5,000 steps:     $( { echo 'version: 1'; echo 'steps:'; for i in $(seq 5000); do echo "  - {provider: run, name: s$i, with: {commands: ['echo $i']}}"; done; } > s5000.yaml; rss "$b" plan s5000.yaml)"
done
