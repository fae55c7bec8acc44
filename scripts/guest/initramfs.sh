#!/usr/bin/env bash
# Builds the base initramfs of a test guest: busybox-static, the kernel modules asked for, and
# an /init that runs the guest's payload and powers off.
#
#   scripts/guest/initramfs.sh KERNEL_DIR OUT.cpio.gz [MODULE ...]
#
# KERNEL_DIR is what kernel.sh printed. MODULEs are paths under lib/modules/<release>/kernel
# without .ko, in load (dependency) order; one that is built into the kernel (modules.builtin)
# is skipped, one that is neither is an error. Default: the NVMe driver chain (built into the
# cloud kernel, modules in the generic one).
#
# /init contract (what a payload and a harness reading the serial console can rely on):
#   - proc, sysfs, devtmpfs and a tmpfs /tmp are mounted; modules are loaded;
#   - kernel command-line words KEY=value that the kernel does not know are in the environment;
#   - lines "GUEST-INIT uptime=S" and "GUEST-MODULES uptime=S" are printed on the console;
#   - /guest/run (from an overlay cpio appended to this one, see overlay.sh) runs with its
#     output on the console, then "GUEST-EXIT rc=N uptime=S" is printed;
#   - without /guest/run, "GUEST-NO-PAYLOAD" is printed, or with guest.shell=1 on the kernel
#     command line a shell is started (by hand, on the terminal); then the guest powers off
#     (QEMU exits with -no-reboot).
set -euo pipefail
kdir=${1:?usage: initramfs.sh KERNEL_DIR OUT.cpio.gz [MODULE ...]}
out=${2:?usage: initramfs.sh KERNEL_DIR OUT.cpio.gz [MODULE ...]}
shift 2
if [ $# -eq 0 ]; then
  set -- crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64 lib/crc64-rocksoft \
    crypto/crc64_rocksoft_generic block/t10-pi drivers/nvme/host/nvme-core drivers/nvme/host/nvme
fi
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && "$busybox" --list >/dev/null 2>&1 || { echo "initramfs.sh: busybox not found (install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then echo "initramfs.sh: $busybox is dynamically linked; install busybox-static" >&2; exit 1; fi
command -v cpio >/dev/null || { echo "initramfs.sh: cpio not found" >&2; exit 1; }

release=$(cat "$kdir/version")
mods="$kdir/lib/modules/$release"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,guest,lib/modules}
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
: > "$root/lib/modules/order"
for m in "$@"; do
  if [ -f "$mods/kernel/$m.ko" ]; then
    cp "$mods/kernel/$m.ko" "$root/lib/modules/"
    basename "$m" >> "$root/lib/modules/order"
  elif grep -q "^kernel/$m.ko$" "$mods/modules.builtin"; then
    :   # built into this kernel
  else
    echo "initramfs.sh: module $m is neither in $mods/kernel nor built in" >&2; exit 1
  fi
done
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=1777 tmp /tmp
up() { cut -d' ' -f1 /proc/uptime; }
echo "GUEST-INIT uptime=$(up) kernel=$(uname -r)"
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko" || echo "GUEST-INSMOD-FAILED $m"; done
echo "GUEST-MODULES uptime=$(up)"
if [ -x /guest/run ]; then
  /guest/run
  echo "GUEST-EXIT rc=$? uptime=$(up)"
elif grep -qw guest.shell=1 /proc/cmdline; then
  setsid cttyhack sh
else
  echo "GUEST-NO-PAYLOAD: no /guest/run in the initramfs"
fi
sync
poweroff -f
INIT
chmod 755 "$root/init"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
# The kernel takes an uncompressed archive appended after a compressed one only at a 4-byte
# boundary (init/initramfs.c skips zero bytes in between): pad to 512 like cpio's own blocks.
size=$(stat -c %s "$out.tmp")
head -c $(( (512 - size % 512) % 512 )) /dev/zero >> "$out.tmp"
mv "$out.tmp" "$out"
