#!/usr/bin/env bash
# Run Microsoft's SCIM reference Postman collection (AzureAD/SCIMReferenceCode,
# "SCIM Tests") with newman against a freshly built `kacescim serve`.
#
# Usage:
#   scripts/postman.sh [COLLECTION.json]
#
# Environment (all optional):
#   COLLECTION      the collection to run (default: the first argument, else
#                   ../shared/reference/peer-suites/ (next to the repository): AzureAD-SCIMReferenceCode-PostmanCollection.json)
#   NEWMAN_VERSION  npm version spec of newman (default: 6, which runs on Node >= 16)
#   NEWMAN_DIR      a directory that already has newman in node_modules (skips npm install)
#   REPORT          where to write newman's JSON report (default: $TMPDIR/.../report.json,
#                   kept only with KEEP_TMP=1)
#   KEEP_TMP=1      keep the temporary directory (binary, data dir, server log, report)
#
# It needs go, node and npm. Everything goes into a temporary directory: newman
# (npm install), the kacescim binary, the server's data directory. The server
# listens on 127.0.0.1:0 (a free port), gets one provider ("azure", enabled)
# whose key the collection sends as its bearer token, and is stopped at the end.
#
# The collection's variables are Protocol, Server, Port (with its colon), Api
# and token. Its first request, "Get Token", asks the Microsoft reference
# server's test-only /Token endpoint for a JWT and then does
# postman.setEnvironmentVariable("token", jsonData.token), which would replace
# any --env-var token with undefined. The key is therefore passed as iteration
# data (-d), which takes precedence over environment variables, so no edit of
# the collection is needed. "Get Token" itself still fails (kacescim has no
# such endpoint: 401).
#
# Exit status: newman's (non-zero when any assertion fails), after a summary
# of requests, assertions, passes and failures with every failure listed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
collection=${1:-${COLLECTION:-$repo/../shared/reference/peer-suites/AzureAD-SCIMReferenceCode-PostmanCollection.json}}
newman_version=${NEWMAN_VERSION:-6}

for tool in go node npm; do
	command -v "$tool" >/dev/null || { echo "postman.sh: $tool is required" >&2; exit 2; }
done
[[ -f $collection ]] || { echo "postman.sh: no collection at $collection" >&2; exit 2; }
collection=$(cd "$(dirname "$collection")" && pwd)/$(basename "$collection")

# Nothing from the caller's kacescim configuration may leak into this run.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^KACESCIM_' || true)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kacescim-postman.XXXXXX")
export XDG_CONFIG_HOME=$tmp/xdg-config # no ~/.config/kacescim/config.yaml either
report=${REPORT:-$tmp/report.json}
server_pid=

cleanup() {
	local rc=$?
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [[ ${KEEP_TMP:-} == 1 ]]; then
		echo "postman.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. newman, outside the repository.
if [[ -n ${NEWMAN_DIR:-} && -x $NEWMAN_DIR/node_modules/.bin/newman ]]; then
	newman=$NEWMAN_DIR/node_modules/.bin/newman
else
	echo "==> installing newman@$newman_version into $tmp/newman" >&2
	mkdir -p "$tmp/newman"
	(cd "$tmp/newman" && npm init -y >/dev/null &&
		npm install --no-audit --no-fund --loglevel=error "newman@$newman_version" >/dev/null)
	newman=$tmp/newman/node_modules/.bin/newman
fi
echo "==> newman $("$newman" --version), node $(node --version)" >&2

# 2. kacescim, built from this checkout, serving on a free port.
echo "==> building kacescim" >&2
(cd "$repo" && go build -o "$tmp/kacescim" ./cmd/kacescim)
bin=$tmp/kacescim
data=$tmp/data
mkdir -p "$data"
"$bin" serve --data-dir "$data" --listen 127.0.0.1:0 >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
	[[ -s $data/server-url ]] && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; echo "postman.sh: kacescim serve exited" >&2; exit 1; }
	sleep 0.1
done
[[ -s $data/server-url ]] || { cat "$tmp/serve.log" >&2; echo "postman.sh: kacescim serve did not start" >&2; exit 1; }
url=$(cat "$data/server-url")
port=${url##*:}
echo "==> kacescim serve at $url (pid $server_pid)" >&2

key=$("$bin" --data-dir "$data" --server "$url" provider add azure --enabled --output json |
	node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))')
[[ $key == kcs_* ]] || { echo "postman.sh: provider add printed no key" >&2; exit 1; }
printf '[{"token":"%s"}]\n' "$key" >"$tmp/iteration-data.json"
echo "==> provider azure created; running $(basename "$collection")" >&2

# 3. The collection.
set +e
"$newman" run "$collection" \
	--iteration-data "$tmp/iteration-data.json" \
	--env-var Protocol=http \
	--env-var Server=127.0.0.1 \
	--env-var "Port=:$port" \
	--env-var Api=scim/v2 \
	--reporters cli,json --reporter-json-export "$report" \
	--color off
newman_rc=$?
set -e

# Summary, from the JSON report.
if [[ -s $report ]]; then
	node - "$report" <<'EOF'
const r = require(process.argv[2]).run;
const s = r.stats;
const passed = s.assertions.total - s.assertions.failed;
console.log('\n==> summary');
console.log(`requests:   ${s.requests.total} (${s.requests.failed} could not be sent)`);
console.log(`assertions: ${s.assertions.total}, passed ${passed}, failed ${s.assertions.failed}`);
console.log(`script errors: ${s.testScripts.failed + s.prerequestScripts.failed}`);
for (const ex of r.executions) {
	for (const a of ex.assertions || []) {
		if (!a.error) continue;
		const code = ex.response ? ex.response.code : 'no response';
		console.log(`FAIL ${ex.item.name} [${ex.request.method} -> ${code}]: ${a.assertion}: ${a.error.message}`);
	}
}
EOF
else
	echo "postman.sh: newman wrote no report" >&2
fi
exit "$newman_rc"
