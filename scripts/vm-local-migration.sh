#!/usr/bin/env bash
# A VM live migration by hand, on one machine (docs/vm.md): the guest of scripts/guest-build.sh
# (VM_INITRD: a writer that verifies every acknowledged write) on a virtio-blk disk that is MC 1's
# NBD export of `nvme-lm device serve`; `nvme-lm migrate --vm-qmp` moves the namespace to MC 2 and
# the VM to a second QEMU whose disk is MC 2's export; then the guest verifies on the destination.
#
#   scripts/vm-local-migration.sh [RUNS] [IOPS] [MIGRATE_OPTIONS...]     (default: 1 run, 200 IOPS)
#
# Prints, per run, the guest's verdict and the report's vm_downtime_ms, storage_stop_ms,
# vm_total_ms; exit 0 only when every run verified. Everything lives in a fresh directory under
# target/ that is removed at the end (KEEP=1 keeps it).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
runs=${1:-1}; iops=${2:-200}; shift $(( $# > 2 ? 2 : $# ))
eval "$("$root/scripts/guest-build.sh" "$root/target/guest" | grep -E '^(KERNEL|VM_INITRD)=')"
accel=(-accel tcg)
if { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && [ -w /dev/kvm ]; then accel=(-accel kvm -cpu host); fi
mkdir -p "$root/target"
w=$(mktemp -d "$root/target/vm-local.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ "${KEEP:-0}" = 1 ] || rm -rf "$w"; }
trap cleanup EXIT
await() { # await FILE PATTERN [SECONDS]: until a line matching PATTERN is in FILE
  local n=$(( ${3:-90} * 10 )); until grep -qa "$2" "$1" 2>/dev/null; do n=$((n-1)); [ $n -gt 0 ] || { echo "timeout waiting for '$2' in $1" >&2; tail -5 "$1" >&2; return 1; }; sleep 0.1; done
}
vm() { # vm NAME EXPORT [QEMU_ARGS...]: QEMU in the background, console in NAME.log, input from NAME.in
  local name=$1 export=$2; shift 2
  mkfifo "$w/$name.in"
  timeout -k 5 300 qemu-system-x86_64 "${accel[@]}" -m 256 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
    -chardev stdio,id=con0,signal=off -serial chardev:con0 -qmp "unix:$w/$name.qmp,server=on,wait=off" \
    -kernel "$KERNEL" -initrd "$VM_INITRD" -append "console=ttyS0 panic=-1 quiet loglevel=3 WRITER_IOPS=$iops WRITER_BLOCKS=4096" \
    -blockdev "driver=nbd,node-name=disk0,server.type=unix,server.path=$w/nbd.sock,export=$export" \
    -device virtio-blk-pci,drive=disk0,id=vd0,cyls=130,heads=16,secs=63 "$@" < "$w/$name.in" > "$w/$name.log" 2>&1 &
  pids+=($!)
  exec {fd}>"$w/$name.in"; eval "${name}_in=$fd"   # QEMU's stdin opens once this writer does
}
fail=0
for run in $(seq "$runs"); do
  rm -rf "$w/d" "$w"/*.log "$w"/*.in "$w"/*.qmp "$w"/mig.sock; mkdir -p "$w/d"
  "$root/nvme-lm" device serve --dir "$w/d" --ns-size 64M --migratable 2 --nbd "unix:$w/nbd.sock" > "$w/serve.log" 2>&1 &
  pids+=($!); serve=$!
  await "$w/serve.log" '^nbd+unix' 60
  vm src c1n1
  vm dst c2n1 -incoming "unix:$w/mig.sock"
  await "$w/src.log" 'WRITER-PROGRESS' && sleep 1
  rc=0
  "$root/nvme-lm" migrate --source "sim:$w/d/ctl.sock#1" --dest "sim:$w/d/ctl.sock#2" --vm-qmp "$w/src.qmp" --vm-to "unix:$w/mig.sock" \
    --vm-dest-qmp "$w/dst.qmp" -o json "$@" > "$w/report.json" 2> "$w/migrate.err" || rc=$?
  if [ $rc -ne 0 ]; then echo "run $run: migrate exit $rc: $(cat "$w/migrate.err")"; fail=1; else
    await "$w/dst.log" 'WRITER-PROGRESS'
    echo verify >&"$dst_in"; await "$w/dst.log" '^VERIFY '
    verdict=$(grep -a '^VERIFY ' "$w/dst.log" | tr -d '\r')
    j() { grep -o "\"$1\": [0-9.]*" "$w/report.json" | head -1 | awk '{print $2}'; }
    echo "run $run: $verdict; vm_downtime_ms $(j vm_downtime_ms) storage_stop_ms $(j storage_stop_ms) vm_total_ms $(j vm_total_ms) total_ms $(j total_ms); guest max write latency on the source $(grep -a WRITER-PROGRESS "$w/src.log" | tail -1 | sed 's/.*max_lat_all_ms=//') ms"
    case $verdict in "VERIFY ok"*) ;; *) fail=1 ;; esac
  fi
  for p in "${pids[@]}"; do [ "$p" = "$serve" ] || kill "$p" 2>/dev/null || true; done
  kill -TERM "$serve"; wait 2>/dev/null || true; pids=()
  eval "exec ${src_in}>&- ${dst_in}>&-"
done
exit $fail
