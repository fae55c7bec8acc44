#!/usr/bin/env bash
# Packs a directory tree as an uncompressed newc cpio, to append to a base initramfs:
#
#   scripts/guest/overlay.sh DIR OUT.cpio
#   cat base.cpio.gz java.cpio app.cpio > initrd      # the kernel unpacks them in order
#
# Uncompressed because the guest would decompress under TCG at a few tens of MB/s; the kernel
# copies an uncompressed archive. mtimes are kept (the kernel restores them), which the JVM's
# class-data-sharing checks rely on.
set -euo pipefail
dir=${1:?usage: overlay.sh DIR OUT.cpio}
out=${2:?usage: overlay.sh DIR OUT.cpio}
command -v cpio >/dev/null || { echo "overlay.sh: cpio not found" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
