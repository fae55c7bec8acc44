#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use. Idempotent: does nothing
# when everything is present. Runs `apt-get update` once, then `apt-get install -y`.
set -euo pipefail
pkgs=()
need() { dpkg -s "$1" >/dev/null 2>&1 || pkgs+=("$1"); }
# NBD peers used by the interop tests and benchmarks: qemu-nbd/qemu-img (qemu-utils),
# qemu-storage-daemon (qemu-system-common: the live-mirror peer),
# nbdkit (memory, sparse-random), libnbd's nbdcopy/nbdinfo, and fio's nbd engine.
# The Linux guest of LinuxGuestTest (scripts/guest-build.sh): QEMU's x86 system emulator with its
# NVMe device, busybox-static and cpio for the initramfs (the kernel is fetched by the script);
# gcc and libc6-dev compile the VM guest's static writer (scripts/guest/vm-writer.c).
for p in iproute2 qemu-utils qemu-system-common nbdkit libnbd-bin fio qemu-system-x86 busybox-static cpio gcc libc6-dev; do need "$p"; done
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: need root to install: ${pkgs[*]}" >&2; exit 1; fi
  echo "install-deps: installing ${pkgs[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
