#!/usr/bin/env bash
# Where the time of a run goes, phase by phase (issue 11, BENCHMARKS.md),
# not part of CI. Builds stackhook with the `timeline` feature (phase marks
# on stderr, see src/base/timeline.rs) into target/timeline, then runs each
# workload RUNS times (default 200) from a driver that reads
# CLOCK_MONOTONIC just before posix_spawn and just after reaping, and
# prints each phase's median: its own length and when it ends. The same
# driver times the sh baselines, so their start and exit cost the same.
#
#   bench/timeline.sh
#
# TARGET=x86_64-unknown-linux-musl PROFILE=dist measures the build that
# ships (static musl, see scripts/release) instead of the release build;
# BIN=PATH measures a binary built with the feature elsewhere.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
profile=${PROFILE:-release}
target_args=()
[ -z "${TARGET:-}" ] || target_args=(--target "$TARGET")
bin=${BIN:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --quiet --profile "$profile" "${target_args[@]}" --features timeline --target-dir target/timeline)
  bin=$root/target/timeline/${TARGET:+$TARGET/}$profile/stackhook
fi
bin=$(realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p tmp kube
export TMPDIR=$work/tmp KUBECONFIG=$work/kube/config HOME=$work

steps() { # steps N COMMAND: a spec of N steps running COMMAND
  echo "version: 1"; echo "steps:"
  for i in $(seq "$1"); do echo "  - {provider: run, name: s$i, with: {commands: ['$2']}}"; done
}
steps 1 true > one.yaml
steps 10 true > ten.yaml
steps 1 'seq 200000' > lines.yaml
{ echo "#!/bin/sh"; for _ in $(seq 10); do echo "sh -c true"; done; } > ten.sh

python3 - "$bin" "${RUNS:-200}" <<'PY'
import os, statistics, sys, time
from collections import defaultdict

stackhook, runs = sys.argv[1], int(sys.argv[2])
sh = "/bin/sh"

def once(argv):
    """One run: (phase, µs since the spawn) for each mark, then the exit."""
    with open("stderr", "w+b") as err, open(os.devnull, "wb") as null:
        acts = [(os.POSIX_SPAWN_DUP2, null.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=acts)
        os.waitpid(pid, 0)
        t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        err.seek(0)
        marks, seen = [], defaultdict(int)
        for line in err.read().decode().splitlines():
            if line.startswith("T "):
                _, _pid, at, phase = line.split(" ", 3)
                seen[phase] += 1
                if phase == "step":
                    phase = f"step {seen[phase]}"
                marks.append((phase, int(at) - t0))
        return marks + [("exit seen by the caller", t1 - t0)]

def measure(title, argv):
    for _ in range(5):
        once(argv)  # warm-up
    ends = defaultdict(list)
    lengths = defaultdict(list)
    order = []
    for _ in range(runs):
        prev = 0
        for phase, at in once(argv):
            if phase not in ends:
                order.append(phase)
            ends[phase].append(at)
            lengths[phase].append(at - prev)
            prev = at
    print(f"\n## {title} ({runs} runs, medians)")
    print(f"{'phase':<34} {'length':>9} {'ends at':>9}")
    for phase in order:
        print(f"{phase:<34} {statistics.median(lengths[phase]):>7.0f}us {statistics.median(ends[phase]):>7.0f}us")

measure("sh -c true", [sh, "-c", "true"])
measure("sh script: sh -c true x10", [sh, "ten.sh"])
measure("sh -c 'seq 200000'", [sh, "-c", "seq 200000"])
measure("stackhook plan (1 step)", [stackhook, "plan", "one.yaml"])
measure("stackhook run (1 step)", [stackhook, "run", "--quiet", "one.yaml"])
measure("stackhook run (10 steps)", [stackhook, "run", "--quiet", "ten.yaml"])
measure("stackhook run (seq 200000)", [stackhook, "run", "lines.yaml"])
PY
