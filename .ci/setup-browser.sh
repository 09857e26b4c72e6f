#!/usr/bin/env bash
# Headless Debian Chromium for the browser tests (tests/browser); idempotent, run as root.
# Playwright drives this Chromium (executable_path=/usr/bin/chromium): never `playwright install`,
# which downloads a browser build of its own.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
/usr/bin/chromium --version
