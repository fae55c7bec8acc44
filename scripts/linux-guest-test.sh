#!/usr/bin/env bash
# Runs nvme-lm's device commands inside a Debian guest kernel under QEMU, against QEMU's
# emulated NVMe controller, by hand (LinuxGuestTest does the same in the suite and judges it):
#
#   scripts/linux-guest-test.sh [WORK_DIR]      (default: a new directory under target/)
#
# Builds the jar if it is missing or older than the sources (mvn package), the guest with scripts/guest-build.sh, a 64 MiB
# image file with a marker at LBA 1000, boots the guest with scripts/guest/nvme-lm-guest.sh as its
# payload, prints the serial console, then compares the image on the host: the 4 KiB written
# through /dev/nvme0n1 at LBA 100, the 0xa5 pattern written through /dev/nvme0 at LBA 200, and
# the marker erased by Format NVM. Exit 0 only when all three match. JVM_OPTS=... changes the
# guest JVM's options (default -Xint, the fastest under TCG). The work directory is kept.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
work=${1:-$(mktemp -d "$root/target/linux-guest.XXXXXX")}
mkdir -p "$work"
g=$root/scripts/guest
"$g/qemu-run.sh" --check >&2 || exit 1
if [ ! -f "$root/target/nvme-lm.jar" ] || [ -n "$(find "$root/src/main" "$root/pom.xml" -newer "$root/target/nvme-lm.jar" -print -quit)" ]; then
  (cd "$root" && mvn -B -q -DskipTests package)
fi
eval "$("$root/scripts/guest-build.sh")"

app=$work/app
rm -rf "$app"
mkdir -p "$app/opt/nvme-lm" "$app/guest"
cp "$root/target/nvme-lm.jar" "$app/opt/nvme-lm/"
cp -r "$root/target/lib" "$app/opt/nvme-lm/lib"
cp "$g/nvme-lm-guest.sh" "$app/guest/run"
head -c 4096 /dev/urandom > "$app/guest/data.bin"
"$g/overlay.sh" "$app" "$work/app.cpio"
cat "$INITRAMFS" "$JAVA_OVERLAY" "$work/app.cpio" > "$work/initrd"

img=$work/disk.img
rm -f "$img"
truncate -s 64M "$img"
printf 'NVMELM-SEED-LBA1000' | dd of="$img" bs=512 seek=1000 conv=notrunc status=none

echo "booting $KERNEL_RELEASE (log: $work/console.log)" >&2
start=$(date +%s)
append=""
[ -n "${JVM_OPTS:-}" ] && append="JVM_OPTS=${JVM_OPTS// /,}"
"$g/qemu-run.sh" "$KERNEL" "$work/initrd" --nvme "$img" --timeout 900 ${append:+--append "$append"} </dev/null | tee "$work/console.log"
echo "guest run: $(( $(date +%s) - start )) s" >&2

ok=0
cmp <(dd if="$img" bs=512 skip=100 count=8 status=none) "$app/guest/data.bin" && echo "HOST: LBA 100-107 match data.bin" || ok=1
cmp <(dd if="$img" bs=512 skip=200 count=1 status=none) <(head -c 512 /dev/zero | tr '\0' '\245') && echo "HOST: LBA 200 is 0xa5" || ok=1
cmp <(dd if="$img" bs=512 skip=1000 count=8 status=none) <(head -c 4096 /dev/zero) && echo "HOST: LBA 1000 erased by Format NVM" || ok=1
grep -q '^CHECKS-DONE' "$work/console.log" || { echo "HOST: the guest did not finish (no CHECKS-DONE)"; ok=1; }
exit $ok
