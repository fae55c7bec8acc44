#!/usr/bin/env bash
# Builds (or finds in its cache) everything a Linux test guest needs, from Debian's packages:
#
#   scripts/guest-build.sh [CACHE_DIR]        (default: target/guest)
#
# and prints one KEY=value line each:
#   KERNEL=...          the guest kernel (vmlinuz of linux-image-cloud-amd64, or $GUEST_KERNEL_META)
#   KERNEL_RELEASE=...  its release string (uname -r in the guest)
#   INITRAMFS=...       the base initramfs (busybox-static, /init: see scripts/guest/initramfs.sh)
#   JAVA_OVERLAY=...    a jlink'ed Java runtime at /opt/java with its C libraries (cpio to append)
#   VM_INITRD=...       the whole initrd of the migratable VM guest: virtio-blk modules and the
#                       verifying writer (scripts/guest/vm-guest.sh, docs/vm.md)
#
# A guest is then: cat INITRAMFS JAVA_OVERLAY your-overlay.cpio > initrd, and
# scripts/guest/qemu-run.sh KERNEL initrd --nvme disk.img. Needs apt-get (Debian), busybox-static,
# cpio, gcc with libc6-dev (the VM guest's writer) and a JDK 25 (scripts/install-deps.sh installs the packages). Everything is fetched here,
# never at test time; a second run with a full cache takes well under a second. Nothing under
# CACHE_DIR is meant to be committed.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cache=${1:-$root/target/guest}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
g=$root/scripts/guest

kdir=$("$g/kernel.sh" "$cache")
initramfs=$kdir/initramfs.cpio.gz
if [ ! -f "$initramfs" ] || [ "$g/initramfs.sh" -nt "$initramfs" ] || [ "$(command -v busybox)" -nt "$initramfs" ]; then
  "$g/initramfs.sh" "$kdir" "$initramfs"
fi
java=$("$g/java-runtime.sh" "$cache")
vm=$("$g/vm-guest.sh" "$kdir")
echo "KERNEL=$kdir/vmlinuz"
echo "KERNEL_RELEASE=$(cat "$kdir/version")"
echo "INITRAMFS=$initramfs"
echo "JAVA_OVERLAY=$java"
echo "VM_INITRD=$vm"
