#!/bin/sh
# Runs inside the test guest as /guest/run (see scripts/linux-guest-test.sh and LinuxGuestTest):
# nvme-lm's device commands against QEMU's emulated NVMe controller through the Linux backend.
#
# Expects in the initramfs: /opt/java (java-runtime.sh), nvme-lm as /opt/nvme-lm/nvme-lm.jar with
# its lib/ (a packaged build), or as /opt/nvme-lm/classes with the jars in lib/ (the test's classpath),
# and /guest/data.bin (8 blocks of 512 bytes that the host compares on the image afterwards).
# The host seeded LBA 1000 of the image with a marker before the boot (read here, then erased
# by the Format NVM).
#
# Each step prints, on the serial console:
#   STEP-BEGIN <name>
#   OUT| <stdout line> ...      ERR| <stderr line> ...
#   STEP-END <name> rc=<exit status> ms=<host-visible duration>
# and the run ends with "CHECKS-DONE". Nothing here judges the results: the harness does.
export PATH=/opt/java/bin:/bin:/sbin
JVM_OPTS=$(echo "${JVM_OPTS:--Xint}" | tr , " ")   # commas: the kernel command line splits at spaces
CTRL=/dev/nvme0
NS=/dev/nvme0n1
if [ -f /opt/nvme-lm/nvme-lm.jar ]; then APP="-jar /opt/nvme-lm/nvme-lm.jar"
else APP="-cp /opt/nvme-lm/classes:/opt/nvme-lm/lib/* dev.nvmelm.cli.Main"; fi
ms() { read -r up _ < /proc/uptime; echo "${up%.*}${up#*.}0"; }

step() {
  name=$1; shift
  echo "STEP-BEGIN $name"
  t0=$(ms)
  # shellcheck disable=SC2086 (APP and JVM_OPTS are word lists)
  java $JVM_OPTS -XX:+UseSerialGC -XX:-UsePerfData -Xmx256m -Xshare:auto \
    --enable-native-access=ALL-UNNAMED $APP "$@" > /tmp/out 2> /tmp/err
  rc=$?
  t1=$(ms)
  sed 's/^/OUT| /' /tmp/out
  sed 's/^/ERR| /' /tmp/err
  echo "STEP-END $name rc=$rc ms=$((t1 - t0))"
}

# a shell step (no JVM), same framing
sh_step() {
  name=$1; shift
  echo "STEP-BEGIN $name"
  sh -c "$*" > /tmp/out 2> /tmp/err
  rc=$?
  sed 's/^/OUT| /' /tmp/out
  sed 's/^/ERR| /' /tmp/err
  echo "STEP-END $name rc=$rc ms=0"
}

for i in $(seq 100); do [ -b $NS ] && break; sleep 0.1; done
sh_step devices "ls -l /dev/nvme* /dev/ng*; cat /sys/class/nvme/nvme0/model /sys/block/nvme0n1/queue/logical_block_size"

# Identify through the controller node and through the namespace node (admin ioctl on both)
step id-ctrl id-ctrl $CTRL
step id-ctrl-json id-ctrl $NS -o json

# What the host put at LBA 1000 (4 KiB: blocks 1000..1007)
step read-seed io read $NS -n 1 -s 1000 -c 7 -d /tmp/seed.bin
sh_step seed-md5 "md5sum /tmp/seed.bin"

# Format NVM of namespace 1 (the kernel rescans the namespace afterwards)
step format format $CTRL -n 1
for i in $(seq 100); do [ -b $NS ] && break; sleep 0.1; done
step read-after-format io read $NS -n 1 -s 1000 -c 7 -d /tmp/formatted.bin
sh_step formatted-md5 "md5sum /tmp/formatted.bin"

# Write and read back through the namespace node (NVME_IOCTL_IO64_CMD)...
step write-ns io write $NS -n 1 -s 100 -c 7 -d /guest/data.bin
step read-ns io read $NS -n 1 -s 100 -c 7 -d /tmp/readback.bin
sh_step compare-ns "cmp /guest/data.bin /tmp/readback.bin && md5sum /tmp/readback.bin"
# ...through the generic namespace character device (NVME_IOCTL_IO64_CMD on /dev/ng0n1)...
step read-ng io read /dev/ng0n1 -n 1 -s 100 -c 7 -d /tmp/ng.bin
sh_step compare-ng "cmp /guest/data.bin /tmp/ng.bin && md5sum /tmp/ng.bin"
# ...and through the controller node (NVME_IOCTL_IO_CMD, single namespace)
step write-ctrl io write $CTRL -n 1 -s 200 -c 7 --pattern 0xa5
step read-ctrl io read $CTRL -n 1 -s 200 -c 0 -d /tmp/ctrl.bin
sh_step ctrl-bytes "od -An -tx1 -v /tmp/ctrl.bin | tr -s ' ' '\\n' | sort | uniq -c"
# refused before any ioctl: another NSID on the namespace node
step io-wrong-nsid io read $NS -n 2 -s 0 -c 0

# The Live Migration commands: QEMU's controller has no HMLM, so each one must come back as the
# controller's NVMe status through the real passthrough ioctl, and the CDQ ones through the CDQ
# ioctl probe (no RFC in this kernel)
step create-cdq lm create-cdq $CTRL --size=1024 --cntlid=1
step create-cdq-ns lm create-cdq $NS --size=1024 --cntlid=1
step delete-cdq lm delete-cdq $CTRL --cdqid=1
step track-send lm track-send $CTRL --sel=0 --cdqid=1 --start
step migration-send lm migration-send $CTRL --sel=0 --cntlid=1
step migration-recv lm migration-recv $CTRL --sel=0 --cntlid=1 --numd=1023 -f /tmp/state.bin
step set-cdq lm set-cdq $CTRL --cdqid=1 --hp=0
step get-cdq lm get-cdq $CTRL --cdqid=1
step cdq-read lm cdq-read $CTRL --cdqid=1
step cdq-watch lm cdq-watch $CTRL --cntlid=1 --duration=1
# what the kernel said about all of it (the console runs at loglevel 3)
sh_step dmesg "dmesg | grep -i nvme"
sync
echo "CHECKS-DONE"
