#!/usr/bin/env bash
# openapi-python-client for tests/serving/test_generated_client.py, in a virtualenv of its own:
# it pins typer and friends to versions the product's own environment must not be downgraded to.
# Idempotent: does nothing when the pinned version is installed already.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.29.1
VENV="${PTB_OPENAPI_CLIENT_VENV:-.ci-cache/openapi-client}"
TOOL="$VENV/bin/openapi-python-client"
if [[ -x $TOOL ]] && "$VENV/bin/python" -m pip show openapi-python-client 2>/dev/null \
    | grep -qx "Version: $VERSION"; then
    exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "openapi-python-client==$VERSION"
"$TOOL" --version
