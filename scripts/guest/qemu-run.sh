#!/usr/bin/env bash
# Boots a test guest in QEMU with its serial console on stdout; exits when the guest powers off.
#
#   scripts/guest/qemu-run.sh KERNEL INITRD [OPTIONS] [-- EXTRA_QEMU_ARGS...]
#     --nvme IMAGE[,serial=S]   an emulated NVMe controller (QEMU -device nvme) with one
#                               namespace on the raw IMAGE file (repeatable)
#     --append WORDS            more kernel command-line words (KEY=value reach /init's env)
#     --mem MIB                 guest memory (default 1024)
#     --timeout S               kill QEMU after S seconds (default 600); exit 124 then
#     --check                   only check that QEMU can run here; print why not and exit 1
#
# Acceleration: KVM only where the host has kvm_intel or kvm_amd (/sys/module); otherwise TCG.
# A /dev/kvm alone is not enough: a PVM host (kvm_pvm) hangs stock kernels instead of failing.
# The guest's exit status is not QEMU's: a harness reads markers on the console (initramfs.sh).
set -euo pipefail
qemu=${QEMU:-qemu-system-x86_64}

accel() {
  if { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    echo "kvm -cpu host"
  else
    echo "tcg -cpu max"
  fi
}

if [ "${1:-}" = --check ]; then
  command -v "$qemu" >/dev/null || { echo "$qemu not found (install qemu-system-x86: scripts/install-deps.sh)"; exit 1; }
  "$qemu" -device help 2>/dev/null | grep -q '"nvme"' || { echo "$qemu has no nvme device"; exit 1; }
  echo "ok: $("$qemu" --version | head -1), accel $(accel)"
  exit 0
fi

kernel=${1:?usage: qemu-run.sh KERNEL INITRD [OPTIONS] [-- QEMU_ARGS]}
initrd=${2:?usage: qemu-run.sh KERNEL INITRD [OPTIONS] [-- QEMU_ARGS]}
shift 2
mem=1024 timeout=600 append="" devs=() n=0
while [ $# -gt 0 ]; do
  case $1 in
    --nvme)
      img=${2%%,*}; opts=${2#"$img"}
      serial=NVMELM$(printf %04d $n)
      case $opts in *serial=*) serial=${opts##*serial=}; serial=${serial%%,*} ;; esac
      devs+=(-blockdev "driver=file,node-name=nvme${n}f,filename=$img,cache.direct=off"
             -blockdev "driver=raw,node-name=nvme$n,file=nvme${n}f"
             -device "nvme,serial=$serial,drive=nvme$n")
      n=$((n + 1)); shift 2 ;;
    --append) append="$append $2"; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "qemu-run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
read -r acc cpuopt cpu <<<"$(accel)"
# -nodefaults: no NIC (and no iPXE ROM), no VGA; -no-reboot + the guest's poweroff -f end QEMU;
# panic=-1 turns a guest panic into a reboot, i.e. an exit.
exec timeout --foreground -k 5 "$timeout" "$qemu" -accel "$acc" "$cpuopt" "$cpu" -m "$mem" -smp 1 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3$append" \
  "${devs[@]}" "$@"
