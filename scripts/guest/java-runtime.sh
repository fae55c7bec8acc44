#!/usr/bin/env bash
# Builds a minimal Java runtime for a busybox guest as an initramfs overlay and prints the
# overlay's path.
#
#   scripts/guest/java-runtime.sh CACHE_DIR [JDK_HOME]
#
# jlink's the modules nvme-lm's device commands need (java.base, jdk.unsupported for signal
# handling) with a default CDS archive into /opt/java, and copies the host C libraries the
# runtime links against (ldd) to the same paths, so the guest runs it unchanged. The result,
# CACHE_DIR/java-<release>/java.cpio, is rebuilt only when the JDK or the module list changes.
# JDK_HOME defaults to the first JDK 25+ under /usr/lib/jvm (as ./nvme-lm finds it).
set -euo pipefail
cache=${1:?usage: java-runtime.sh CACHE_DIR [JDK_HOME]}
jdk=${2:-}
modules=java.base,jdk.unsupported
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)

major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'; }
if [ -z "$jdk" ]; then
  for d in /usr/lib/jvm/*/; do
    d=${d%/}
    [ -x "$d/bin/jlink" ] || continue
    m=$(major "$d"); if [ -n "$m" ] && [ "$m" -ge 25 ]; then jdk=$d; break; fi
  done
fi
[ -n "$jdk" ] && [ -x "$jdk/bin/jlink" ] || { echo "java-runtime.sh: no JDK 25+ with jlink found" >&2; exit 1; }
release=$(sed -n 's/^JAVA_RUNTIME_VERSION="\(.*\)"/\1/p' "$jdk/release")
[ -n "$release" ] || release=$(basename "$jdk")
mkdir -p "$cache"
dir="$(cd "$cache" && pwd)/java-$release"
stamp="$jdk $modules"
if [ -f "$dir/java.cpio" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then echo "$dir/java.cpio"; exit 0; fi

rm -rf "$dir"
mkdir -p "$dir/root/opt"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
  --generate-cds-archive --output "$dir/root/opt/java" >"$dir/jlink.log" 2>&1 \
  || { cat "$dir/jlink.log" >&2; echo "java-runtime.sh: jlink failed" >&2; exit 1; }
# The guest JVM runs with compressed oops (-Xmx below 32 GiB): the other archive is dead weight.
rm -f "$dir/root/opt/java/lib/server/classes_nocoops.jsa"
# C libraries: whatever the runtime's binaries resolve outside the runtime, at the same path.
# The dynamic loader is the ELF interpreter ldd prints without "=>".
for f in "$dir/root/opt/java/bin/java" $(find "$dir/root/opt/java/lib" -name '*.so'); do
  LD_LIBRARY_PATH="$dir/root/opt/java/lib:$dir/root/opt/java/lib/server" ldd "$f"
done | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
  case $lib in "$dir"/*) continue ;; esac
  mkdir -p "$dir/root$(dirname "$lib")"
  cp -L "$lib" "$dir/root$lib"
done
# /lib64 -> the loader's directory as on Debian (usrmerge or not, the interpreter path must resolve)
[ -e "$dir/root/lib64/ld-linux-x86-64.so.2" ] || { echo "java-runtime.sh: the dynamic loader was not found by ldd" >&2; exit 1; }
"$here/overlay.sh" "$dir/root" "$dir/java.cpio"
echo "$stamp" > "$dir/stamp"
echo "$dir/java.cpio"
