#!/usr/bin/env bash
# Java for the Spark engine's tests (pyspark 4.3 runs on Java 17); idempotent, run as root.
# Debian's headless JRE, only when no `java` is on the PATH already.
set -euo pipefail
if ! command -v java >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi
java -version 2>&1 | head -n 1
