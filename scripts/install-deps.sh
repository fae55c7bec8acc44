#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use. Idempotent: does nothing
# when everything is present. Runs `apt-get update` once, then `apt-get install -y`.
set -euo pipefail
pkgs=()
need() { dpkg -s "$1" >/dev/null 2>&1 || pkgs+=("$1"); }
# (peer tools are added here by the issues that use them)
need iproute2
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: need root to install: ${pkgs[*]}" >&2; exit 1; fi
  echo "install-deps: installing ${pkgs[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
