#!/usr/bin/env bash
# Builds the initrd of the VM guest that nvme-lm live-migrates (docs/vm.md) and prints its path.
#
#   scripts/guest/vm-guest.sh KERNEL_DIR
#
# KERNEL_DIR is what kernel.sh printed (the cloud kernel). The initrd is the base initramfs with
# the virtio-blk module chain (initramfs.sh) plus an overlay holding /guest/vm-writer (vm-writer.c
# compiled here with gcc -static) and /guest/run, which starts it on $DISK (default /dev/vda).
# Kernel command-line words DISK=, WRITER_IOPS=, WRITER_BLOCKS=, WRITER_REPORT_MS= reach it.
# Left in KERNEL_DIR/vm/initrd; rebuilt only when a source script, busybox or gcc is newer.
set -euo pipefail
kdir=${1:?usage: vm-guest.sh KERNEL_DIR}
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
out=$kdir/vm/initrd
cc=$(command -v gcc || true)
[ -n "$cc" ] || { echo "vm-guest.sh: gcc not found (install gcc and libc6-dev: scripts/install-deps.sh)" >&2; exit 1; }
fresh=1
[ -f "$out" ] || fresh=0
for f in "$here/vm-guest.sh" "$here/vm-writer.c" "$here/initramfs.sh" "$(command -v busybox)" "$cc"; do
  [ "$fresh" = 1 ] && [ "$f" -nt "$out" ] && fresh=0
done
if [ "$fresh" = 1 ]; then echo "$out"; exit 0; fi

mkdir -p "$kdir/vm"
tmp=$(mktemp -d "$kdir/vm/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# virtio-blk: modules in both Debian flavours, in load order
"$here/initramfs.sh" "$kdir" "$tmp/base.cpio.gz" drivers/virtio/virtio_ring drivers/virtio/virtio \
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
mkdir -p "$tmp/app/guest"
"$cc" -static -O2 -Wall -o "$tmp/app/guest/vm-writer" "$here/vm-writer.c" 2>"$tmp/cc.log" \
  || { cat "$tmp/cc.log" >&2; echo "vm-guest.sh: compiling vm-writer.c failed (libc6-dev for static linking?)" >&2; exit 1; }
cat > "$tmp/app/guest/run" <<'RUN'
#!/bin/sh
# the VM guest's payload: wait for the disk, then write and verify until told to quit
DISK=${DISK:-/dev/vda}
for i in $(seq 200); do [ -b "$DISK" ] && break; sleep 0.05; done
[ -b "$DISK" ] || { echo "WRITER-FAILED no block device $DISK"; exit 1; }
export DISK
exec /guest/vm-writer < /dev/console
RUN
chmod 755 "$tmp/app/guest/run"
"$here/overlay.sh" "$tmp/app" "$tmp/app.cpio"
cat "$tmp/base.cpio.gz" "$tmp/app.cpio" > "$tmp/initrd"
mv "$tmp/initrd" "$out"
echo "$out"
