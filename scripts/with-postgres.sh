#!/usr/bin/env bash
# Run a command with a private, throw-away PostgreSQL server, as the
# PostgreSQL store's tests need it:
#
#   scripts/with-postgres.sh go test -race ./...
#
# It starts Debian's PostgreSQL (installing it with apt-get when it is
# missing and this runs as root) in a temporary directory, on a free port on
# 127.0.0.1, with trust authentication for the local user, exports
# KACESCIM_TEST_POSTGRES (a postgres:// URL of a database the tests may
# create schemas in), runs the command, and stops and deletes the server,
# whatever the command's outcome. The exit status is the command's.
#
# When KACESCIM_TEST_POSTGRES is already set, the command runs against that
# server instead and nothing is started.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if [ -n "${KACESCIM_TEST_POSTGRES:-}" ]; then
  exec "$@"
fi

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(pgbin)" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: PostgreSQL is not installed: run 'sudo apt-get install -y postgresql' (Debian) and try again" >&2
    exit 2
  fi
  echo "== installing PostgreSQL (apt-get install postgresql)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi
bin=$(pgbin)

# The server refuses to run as root: as root, run it as the postgres user
# the package creates.
run_as=()
owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  run_as=(runuser -u postgres --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/kacescim-pg.XXXXXX")
chmod 0755 "$dir"
mkdir "$dir/data"
if [ "$owner" = postgres ]; then chown -R postgres "$dir"; fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)

stop() {
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${run_as[@]}" "$bin/initdb" -D "$dir/data" -U "$owner" -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
  "${run_as[@]}" "$bin/initdb" -D "$dir/data" -U "$owner" -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }

# Tests open many stores in parallel: allow the connections; durability
# does not matter for a throw-away server.
"${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export KACESCIM_TEST_POSTGRES="postgres://$owner@127.0.0.1:$port/postgres?sslmode=disable"
echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (KACESCIM_TEST_POSTGRES)" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
