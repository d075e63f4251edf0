#!/usr/bin/env bash
# Builds rviewer against the next Debian release's libssh2 (1.11 for Debian 12) without
# installing it: its packages are downloaded and unpacked under .build-libssh2-next/,
# found through pkg-config and loaded through an rpath, so the system keeps its own.
# The code must build and pass against libssh2 1.11 too (Debian 13, Ubuntu 24.04).
#   scripts/libssh2-next.sh test    build + run the whole test suite against it
#   scripts/libssh2-next.sh bench   release build + the bulk and HTTP benchmarks
#                                   (report: Benchmarks/results/libssh2-next.md)
# Run `make test` (or scripts/setup.sh test) first: it installs the tools and, on
# Debian 12, adds the pinned source of the next release this script downloads from.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}
SWIFT=${SWIFT:-swift}
dir=$PWD/.build-libssh2-next
system=$(pkg-config --modversion libssh2)
case "$system" in
  1.10*|1.9*|1.8*) ;;
  *) echo "libssh2-next: the system's libssh2 is $system already; 'make test' covers it"; exit 0 ;;
esac
codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-}")
case "$codename" in
  bookworm) next=trixie ;;
  *) echo "libssh2-next: no next release known for '$codename'" >&2; exit 1 ;;
esac
if ! apt-cache show "libssh2-1-dev/$next" >/dev/null 2>&1; then
  echo "libssh2-next: apt has no libssh2-1-dev from $next; run scripts/setup.sh test first" >&2
  exit 1
fi
lib=$(apt-cache show "libssh2-1-dev/$next" | awk '/^Depends:/ {print}' | grep -o 'libssh2-1[a-z0-9]*' | head -n1)
rm -rf "$dir/debs" "$dir/root"
mkdir -p "$dir/debs" "$dir/root" "$dir/pkgconfig"
# apt-get download writes into the current directory; as root it warns that _apt
# cannot write there, which is harmless.
(cd "$dir/debs" && apt-get download -qq "libssh2-1-dev/$next" "$lib/$next" 2>&1 | grep -v 'unsandboxed' || true)
for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
libdir=$(dirname "$(find "$dir/root" -name 'libssh2.so.1' | head -n1)")
pc=$(find "$dir/root" -name libssh2.pc | head -n1)
sed "s#^prefix=.*#prefix=$dir/root/usr#" "$pc" > "$dir/pkgconfig/libssh2.pc"
version=$(PKG_CONFIG_PATH=$dir/pkgconfig pkg-config --modversion libssh2)
echo "libssh2-next: building against libssh2 $version from $next ($libdir)"
flags=(--scratch-path "$dir/build" -Xlinker -rpath -Xlinker "$libdir")
export PKG_CONFIG_PATH=$dir/pkgconfig
case "$what" in
  test)
    "$SWIFT" build --build-tests "${flags[@]}"
    bundle=$(ls -d "$dir"/build/debug/*PackageTests.xctest | head -n1)
    ldd "$dir/build/debug/rviewer" | grep -q "$libdir/libssh2.so.1" \
      || { echo "libssh2-next: the build did not link the downloaded libssh2" >&2; exit 1; }
    timeout -k 30 "${RVIEWER_TEST_TIMEOUT:-2400}" stdbuf -oL -eL "$bundle" </dev/null
    ;;
  bench)
    "$SWIFT" build -c release --product rviewer "${flags[@]}"
    python3 Benchmarks/harness/bench.py --binary "$dir/build/release/rviewer" \
      --out Benchmarks/results/libssh2-next.md --only bulk,http
    ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac
