#!/usr/bin/env bash
# bench-peers.sh: kacescim beside the peer SCIM servers, in one run.
#
# Builds kacescim and, from PEERS (default ../shared/peers, or the first
# argument), the elimity-com/scim server, the null server (the ceiling of
# HTTP + JSON) and the scimload load generator; starts each server on
# loopback; runs the same scimload phases against each, one server after
# another, RUNS times; and prints every phase's requests per second and
# p99, and the ratios kacescim/elimity and kacescim/null per run, with
# their min/median/max. Quote ratios, not absolute figures: the machine
# is shared, and scimload shares its cores with the server it loads.
#
#   scripts/bench-peers.sh [PEERS_DIR]
#   RUNS=3 N=5000 C=8 PHASES=create,lookup,deactivate,list:1000,grouppush:1100 scripts/bench-peers.sh
#   KACESCIM_FLAGS="--durability process" scripts/bench-peers.sh
#   DATABASE=postgres://… scripts/bench-peers.sh    # kacescim on PostgreSQL
#   DATABASE=postgres://… REPLICAS=2 C=32 scripts/bench-peers.sh
#       # two kacescim replicas on one PostgreSQL database, each loaded by a
#       # scimload of its own with C/2 clients at once; a phase's figure is
#       # the sum of their requests per second and the higher p99
#
# Needs go, curl and jq. Leaves nothing running; its files are in a
# temporary directory it removes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
peers=$(cd "${1:-$root/../shared/peers}" && pwd)
runs=${RUNS:-3}
n=${N:-5000}
c=${C:-8}
phases=${PHASES:-create,lookup,deactivate,list:1000,grouppush:1100}
replicas=${REPLICAS:-1}
if [ "$replicas" -gt 1 ] && [ -z "${DATABASE:-}" ]; then
	echo "REPLICAS=$replicas needs DATABASE: replicas share a PostgreSQL database" >&2
	exit 2
fi
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "building into $work" >&2
(cd "$root" && go build -o "$work/kacescim" ./cmd/kacescim)
(cd "$peers/elimity" && go build -o "$work/elimity-peer" .)
(cd "$peers/null" && go build -o "$work/null-peer" .)
(cd "$peers/scimload" && go build -o "$work/scimload" .)

wait_up() { # URL: wait until it answers (any HTTP status)
	for _ in $(seq 100); do
		curl -sS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no answer from $1" >&2
	return 1
}

# load NAME URL TOKEN: one scimload run, its JSON lines tagged with NAME.
# scimload exits 1 when an answer fails its verification (always on the
# null server, which stores nothing): the errors are in the figures.
load() {
	{ "$work/scimload" -url "$2" -token "$3" -phases "$phases" -n "$n" -c "${4:-$c}" -timeout 600s || true; } |
		jq -c --arg s "$1" 'select(.phase != null) | {server: $s, phase, rps, p99_ms, errors}'
}

# load_replicas TOKEN: one scimload per kacescim replica, at once, with
# c/replicas clients each; per phase, the sum of their rps and the worst
# p99. (The phases of the loads run side by side, not in lockstep: the
# sum is of each load's own rate over its own phase.)
load_replicas() {
	local outs=()
	for r in $(seq 0 $((replicas - 1))); do
		load kacescim "http://127.0.0.1:$((18180 + 10 * r))/scim/v2" "$1" $((c / replicas)) >"$work/replica-$r.jsonl" &
		outs+=("$work/replica-$r.jsonl")
	done
	wait
	jq -cs 'group_by(.phase)[] | {server: "kacescim", phase: .[0].phase, rps: (map(.rps) | add),
		p99_ms: (map(.p99_ms) | max), errors: (map(.errors) | add)}' "${outs[@]}"
}

results="$work/results.jsonl"
for run in $(seq "$runs"); do
	# Fresh servers every run: each starts empty.
	export XDG_DATA_HOME="$work/run$run/data" XDG_CONFIG_HOME="$work/run$run/config"
	db=()
	if [ -n "${DATABASE:-}" ]; then db=(--database "$DATABASE"); fi
	# shellcheck disable=SC2086 # KACESCIM_FLAGS is a list of flags
	"$work/kacescim" serve --listen 127.0.0.1:18180 "${db[@]}" ${KACESCIM_FLAGS:-} >"$work/kacescim-$run.log" 2>&1 &
	pids+=($!)
	wait_up http://127.0.0.1:18180/readyz
	for r in $(seq 1 $((replicas - 1))); do
		# shellcheck disable=SC2086
		"$work/kacescim" serve --listen "127.0.0.1:$((18180 + 10 * r))" "${db[@]}" ${KACESCIM_FLAGS:-} >"$work/kacescim-$run-$r.log" 2>&1 &
		pids+=($!)
		wait_up "http://127.0.0.1:$((18180 + 10 * r))/readyz"
	done
	PEER_TOKEN=peer-token "$work/elimity-peer" -addr 127.0.0.1:18181 >/dev/null 2>&1 &
	pids+=($!)
	PEER_TOKEN=peer-token "$work/null-peer" -addr 127.0.0.1:18183 >/dev/null 2>&1 &
	pids+=($!)
	wait_up http://127.0.0.1:18180/readyz
	wait_up http://127.0.0.1:18181/scim/v2/ServiceProviderConfig
	wait_up http://127.0.0.1:18183/scim/v2/ServiceProviderConfig
	key=$("$work/kacescim" --server http://127.0.0.1:18180 provider add "bench-$$-$run" --enabled -o json | jq -r .key)

	echo "run $run of $runs" >&2
	{
		if [ "$replicas" -gt 1 ]; then
			load_replicas "$key"
		else
			load kacescim http://127.0.0.1:18180/scim/v2 "$key"
		fi
		load elimity http://127.0.0.1:18181/scim/v2 peer-token
		load null http://127.0.0.1:18183/scim/v2 peer-token
	} | jq -c --argjson run "$run" '. + {run: $run}' | tee -a "$results" >&2
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
done

# Ratios per phase and run, then min/median/max over the runs.
jq -rs '
  def med: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def r2: . * 100 | round / 100;
  group_by(.phase)[] as $ph
  | ($ph | map(select(.server == "kacescim"))) as $k
  | [ $k[] as $x
      | { run: $x.run,
          elimity: ($x.rps / ([$ph[] | select(.server == "elimity" and .run == $x.run) | .rps][0] // null)),
          null:    ($x.rps / ([$ph[] | select(.server == "null"    and .run == $x.run) | .rps][0] // null)),
          errors:  $x.errors } ] as $rs
  | "\($ph[0].phase): kacescim/elimity \([$rs[].elimity | r2] | min) / \([$rs[].elimity] | med | r2) / \([$rs[].elimity | r2] | max)"
    + "   kacescim/null \([$rs[].null | r2] | min) / \([$rs[].null] | med | r2) / \([$rs[].null | r2] | max)"
    + "   (min/median/max of \($rs | length) runs; kacescim errors \([$rs[].errors] | add))"
' "$results"
