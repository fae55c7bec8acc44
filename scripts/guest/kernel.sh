#!/usr/bin/env bash
# Fetches a Debian guest kernel into a cache directory and prints its directory.
#
#   scripts/guest/kernel.sh CACHE_DIR
#
# Leaves CACHE_DIR/kernel-<package>/ with vmlinuz, version (the kernel release string), and
# lib/modules/<release>/ (modules.builtin and the .ko files, for initramfs.sh). Nothing is
# installed on the host: the package is fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` (no maintainer scripts run). A second call with the same package is a no-op.
#
# Environment: GUEST_KERNEL_META (default linux-image-cloud-amd64: LZ4-compressed, NVMe built in,
# boots in ~2.5 s under TCG; linux-image-amd64 is the generic flavour, XZ, NVMe as modules).
set -euo pipefail
cache=${1:?usage: kernel.sh CACHE_DIR}
meta=${GUEST_KERNEL_META:-linux-image-cloud-amd64}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The metapackage depends on exactly one versioned image package; resolve it from the apt lists,
# fetching the lists once if this machine has none yet.
resolve() { apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
pkg=$(resolve)
if [ -z "$pkg" ]; then
  echo "kernel.sh: $meta not in the apt lists; running apt-get update" >&2
  apt-get update -qq >&2
  pkg=$(resolve)
fi
[ -n "$pkg" ] || { echo "kernel.sh: cannot resolve the image package of $meta" >&2; exit 1; }

dir="$cache/kernel-$pkg"
if [ -f "$dir/vmlinuz" ] && [ -s "$dir/version" ]; then echo "$dir"; exit 0; fi

tmp=$(mktemp -d "$cache/.kernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the working directory; as root it warns that the _apt user
# cannot reach the directory, which is harmless.
(cd "$tmp" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
deb=$(ls "$tmp"/"$pkg"_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "kernel.sh: apt-get download $pkg fetched nothing" >&2; exit 1; }
mkdir -p "$tmp/x"
dpkg-deb -x "$deb" "$tmp/x"
release=$(ls "$tmp/x/lib/modules")
mkdir -p "$tmp/out/lib"
cp "$tmp/x/boot/vmlinuz-$release" "$tmp/out/vmlinuz"
mv "$tmp/x/lib/modules" "$tmp/out/lib/modules"
echo "$release" > "$tmp/out/version"
echo "$pkg" > "$tmp/out/package"
rm -rf "$dir"
mv "$tmp/out" "$dir"
echo "$dir"
