#!/usr/bin/env bash
# A local MLflow tracking server on its own PostgreSQL cluster, both on 127.0.0.1, in the
# foreground; Ctrl-C stops both. The same layout as production (docs/operations.md) for trying
# `MLFLOW_TRACKING_URI=http://127.0.0.1:PORT ptb train ...` by hand. Not used by the tests,
# which start their own (tests/integration/conftest.py).
#
#   .ci/start-mlflow-server.sh [DIR] [PORT]    default DIR=/var/tmp/ptb-mlflow, PORT=5000
#
# DIR keeps the cluster (DIR/postgres) and the artifacts (DIR/artifacts) between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$(realpath -m "${1:-/var/tmp/ptb-mlflow}")"
PORT="${2:-5000}"
PG_PORT="${PG_PORT:-$((PORT + 1))}"
BIN="${BIN:-.venv/bin}"

bash .ci/setup-postgres.sh >/dev/null
PG_BIN="$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)")"
as_owner() {  # PostgreSQL refuses to run as root
    if [[ "$(id -u)" -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$DIR/artifacts" "$DIR/postgres"
if [[ "$(id -u)" -eq 0 ]]; then
    chmod 0711 "$DIR"
    chown postgres: "$DIR/postgres"
fi
if [[ ! -f $DIR/postgres/data/PG_VERSION ]]; then
    as_owner "$PG_BIN/initdb" -D "$DIR/postgres/data" -U mlflow --auth=trust -E UTF8 \
        --no-instructions >/dev/null
fi
as_owner "$PG_BIN/pg_ctl" -D "$DIR/postgres/data" -l "$DIR/postgres/postgres.log" -w start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" >/dev/null
trap 'as_owner "$PG_BIN/pg_ctl" -D "$DIR/postgres/data" -m fast stop >/dev/null' EXIT
as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U mlflow mlflow 2>/dev/null || true

echo "PostgreSQL on 127.0.0.1:$PG_PORT; MLflow on http://127.0.0.1:$PORT"
echo "  export MLFLOW_TRACKING_URI=http://127.0.0.1:$PORT"
"$BIN/mlflow" server \
    --backend-store-uri "postgresql://mlflow@127.0.0.1:$PG_PORT/mlflow" \
    --artifacts-destination "$DIR/artifacts" --serve-artifacts \
    --host 127.0.0.1 --port "$PORT" --workers 1
