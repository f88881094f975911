#!/usr/bin/env bash
# The matching solver benchmark (issue 5): generates instances with the reference script of
# shared/bench (README.md there defines the format), solves each with OR-Tools' min-cost flow
# and with Tsunagu's engine on the same files in the same run, and prints both times, the
# ratio, the engine's peak memory and whether the objectives are equal; then, per instance,
# the time to place each of the last 1,000 needs arriving one by one after the others were
# placed (p50, p99), and whether that ends at the full solve's optimum.
#
#   scripts/bench-matching.sh                      # default size: 100,000 needs, 20,000 offers
#   TSUNAGU_BENCH_SCALE=0.1 scripts/bench-matching.sh
#   TSUNAGU_BENCH_INSTANCES="geo:7 geo:11 random:7" scripts/bench-matching.sh
#
# Needs Python 3 (a venv with numpy, scipy and ortools is made under ~/.cache/tsunagu the
# first time) and the reference script (TSUNAGU_BENCH_REFERENCE, default
# ../shared/bench/reference_solve.py).
set -euo pipefail
cd "$(dirname "$0")/.."

reference="${TSUNAGU_BENCH_REFERENCE:-../shared/bench/reference_solve.py}"
venv="${TSUNAGU_BENCH_VENV:-${HOME}/.cache/tsunagu/bench-venv}"
scale="${TSUNAGU_BENCH_SCALE:-1.0}"
instances="${TSUNAGU_BENCH_INSTANCES:-geo:7 geo:11 random:7}"
work="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-matching-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [ ! -f "$reference" ]; then
    echo "reference script not found: $reference (set TSUNAGU_BENCH_REFERENCE)" >&2
    exit 2
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ortools, numpy, scipy' 2>/dev/null; then
    echo "== making the Python venv for the reference solvers in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet numpy scipy ortools
fi

echo "== building the engine's benchmark (release)" >&2
cargo bench -p tsunagu-matching-engine --bench solve_instances --no-run 2>&1 | tail -1 >&2

printf '%-10s %9s %9s %10s %10s %7s %9s %-10s %9s %9s %s\n' instance needs arcs ortools_s tsunagu_s ratio peak_MiB objectives arrive_p50 arrive_p99 incremental
for spec in $instances; do
    mode="${spec%%:*}"
    seed="${spec##*:}"
    dir="$work/$mode-$seed"
    "$venv/bin/python" "$reference" --mode "$mode" --seed "$seed" --scale "$scale" \
        --solvers ortools-mcf --export "$dir" >"$work/ortools.out"
    ortools="$(grep '"solver": "ortools-mcf"' "$work/ortools.out")"
    ours="$(cargo bench -q -p tsunagu-matching-engine --bench solve_instances -- "$dir" 2>/dev/null)"
    "$venv/bin/python" - "$spec" "$ortools" "$ours" <<'PY'
import json, sys
spec, ortools, ours = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
equal = "equal" if ortools["objective"] == ours["objective"] else \
    f"DIFFERENT ({ortools['objective']} vs {ours['objective']})"
ratio = ortools["solve_s"] / max(ours["solve_s"], 1e-6)
incremental = "= full" if ours["incremental_equals_full"] else "DIFFERENT"
print(f"{spec:<10} {ours['needs']:>9} {ours['arcs']:>9} {ortools['solve_s']:>10.3f} "
      f"{ours['solve_s']:>10.3f} {ratio:>6.1f}x {ours['peak_rss_bytes'] / 2**20:>9.0f} {equal:<10} "
      f"{ours['arrival_p50_ms']:>7.3f}ms {ours['arrival_p99_ms']:>7.3f}ms {incremental}")
PY
done
