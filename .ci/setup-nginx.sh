#!/usr/bin/env bash
# What the deployment kit's tests (tests/deploy) need, as root, idempotent: Debian's nginx
# (nginx-light has TLS, HTTP/2 and proxying, all deploy/nginx/ptb.conf uses), openssl for the
# test's self-signed certificate, and systemd's tools (systemd-analyze verify, systemd-sysusers,
# systemd-tmpfiles) for the units. No system nginx is started: the test runs its own.
set -euo pipefail
missing=()
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
command -v systemd-analyze >/dev/null || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Keep the packages' own services stopped (policy-rc.d 101), unless a policy is in place.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
/usr/sbin/nginx -v
systemd-analyze --version | head -n 1
