#!/usr/bin/env bash
# Parley benchmarks: `bash bench/run.sh quick [OUT.md]` (about a minute, small
# sizes; writes to a temporary file unless OUT.md is given) or
# `bash bench/run.sh full` (under 15 minutes; writes docs/benchmarks.md and
# docs/benchmarks-latency.svg) or `bash bench/run.sh dc [OUT.md]` (the
# data-channel scenario alone at full size, about 2 minutes; replaces only
# that section of docs/benchmarks.md, or of OUT.md). PARLEY_BENCH_POSTGRES=postgres://… adds the
# PostgreSQL runs (each in a fresh schema). PARLEY_BENCH_PERF=0 skips the perf
# profile of the server.
set -euo pipefail

mode="${1:-}"
case "$mode" in
quick | full | dc) ;;
*)
	echo "usage: bash bench/run.sh quick|full|dc [OUT.md]" >&2
	exit 2
	;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d "${TMPDIR:-/tmp}/parley-bench.XXXXXX")"
results="$work/results"
mkdir -p "$results"

harness_pid=""
cleanup() {
	# The harness kills its servers and clients itself (and they die with it:
	# Pdeathsig); this only stops the harness if the script is interrupted.
	if [[ -n "$harness_pid" ]] && kill -0 "$harness_pid" 2>/dev/null; then
		kill -TERM "$harness_pid" 2>/dev/null || true
		sleep 2
		kill -KILL "$harness_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT INT TERM

echo "building the server and the harness into $work" >&2
go build -o "$work/signaling" ./signaling
go build -o "$work/parley-bench" ./bench/cmd/parley-bench

if [[ "$mode" == dc ]]; then
	md="${2:-docs/benchmarks.md}"
	"$work/parley-bench" run -mode full -only dc -server "$work/signaling" -out "$results" -timeout 10m &
	harness_pid=$!
	wait "$harness_pid"
	harness_pid=""
	"$work/parley-bench" report -in "$results" -md "$md" -merge-dc
	echo "results: $results" >&2
	echo "report:  $md (data-channel section)" >&2
	rm -f "$work/signaling" "$work/parley-bench"
	exit 0
fi

only=()
if [[ "$mode" == full ]]; then
	md="${2:-docs/benchmarks.md}"
	svg="$(dirname "$md")/benchmarks-latency.svg"
	timeout=25m
	# Issue 15's loads, the ceiling, recovery and idle memory, under 15
	# minutes; burst, fanout and dc run when named (PARLEY_BENCH_ONLY=…,
	# or `bash bench/run.sh dc` for the data-channel section).
	only=(-only "${PARLEY_BENCH_ONLY:-chat,store,resume,idle}")
else
	md="${2:-$work/benchmarks.md}"
	svg="$(dirname "$md")/benchmarks-latency.svg"
	timeout=5m
	only=(-only "${PARLEY_BENCH_ONLY:-chat,store,resume,idle}")
fi

perf_flag=()
if [[ "${PARLEY_BENCH_PERF:-1}" != 0 ]] && command -v perf >/dev/null 2>&1; then
	perf_flag=(-perf)
fi

"$work/parley-bench" run -mode "$mode" -server "$work/signaling" -out "$results" -timeout "$timeout" "${only[@]}" "${perf_flag[@]}" &
harness_pid=$!
wait "$harness_pid"
harness_pid=""

"$work/parley-bench" report -in "$results" -md "$md" -svg "$svg" -mode "$mode"
echo "results: $results" >&2
echo "report:  $md" >&2
echo "plot:    $svg" >&2
rm -f "$work/signaling" "$work/parley-bench" "$results"/perf-*.data "$results"/perf-*.data.old
