#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
./scripts/install-deps.sh
exec mvn -B test "$@"
