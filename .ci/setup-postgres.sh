#!/usr/bin/env bash
# Install the PostgreSQL server binaries the integration tests start a throwaway cluster from.
# Idempotent: does nothing when an initdb is already there. Needs root (apt-get) otherwise.
# The tests start and stop their own cluster; this script starts no service.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

find_initdb() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1
}

if initdb="$(find_initdb)" && [[ -n "$initdb" ]]; then
    echo "setup-postgres: found $initdb"
else
    echo "setup-postgres: no initdb under /usr/lib/postgresql; installing Debian's postgresql"
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "setup-postgres: need root to apt-get install postgresql" >&2
        exit 1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    initdb="$(find_initdb)"
    if [[ -z "$initdb" ]]; then
        echo "setup-postgres: postgresql installed but no initdb found" >&2
        exit 1
    fi
    echo "setup-postgres: installed $initdb"
fi

# Debian's package may start a cluster of its own on 5432; the tests neither use nor touch it.

# PostgreSQL refuses to run as root: the tests run it as the `postgres` user the package creates.
if [[ "$(id -u)" -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    echo "setup-postgres: running as root but there is no postgres user to run the server as" >&2
    exit 1
fi
"$initdb" --version
