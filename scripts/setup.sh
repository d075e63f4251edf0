#!/usr/bin/env bash
# Installs what rviewer needs and is missing; quick and silent when all is there.
#   scripts/setup.sh build   -> build dependencies (libssh2, llhttp, pkg-config)
#   scripts/setup.sh test    -> build dependencies + sshd, ssh client, python3-venv, curl, ss (iproute2),
#                               PAM OATH, headless Chromium + chromedriver + selenium (console tests)
#   scripts/setup.sh bench   -> test dependencies + wrk, nginx
# On Debian 12 libllhttp-dev is not in the release: it comes from the next Debian
# release through an apt source whose mirror is derived from the machine's own
# sources, pinned below 100 so nothing else is ever upgraded from it.
set -euo pipefail

what=${1:-build}
build_pkgs=(pkg-config libssh2-1-dev libllhttp-dev)
test_pkgs=(openssh-server openssh-client python3-venv curl procps passwd iproute2 libpam-oath oathtool
           chromium chromium-driver python3-selenium python3-prometheus-client)
bench_pkgs=(wrk nginx-light iperf3)

want=("${build_pkgs[@]}")
case "$what" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${want[@]}"; do have "$p" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive

# Debian codename of this machine, and the one after it (where llhttp is packaged).
codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-}")
next_release() {
  case "$1" in
    bullseye) echo bookworm ;;
    bookworm) echo trixie ;;
    *) echo "" ;;
  esac
}

# The Debian archive mirror this machine already uses (deb822 or one-line sources).
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v c="$codename" '
      /^URIs:/ {u=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==c) s=1}
      /^$/ {if (u!="" && s && !done) {print u; done=1} u=""; s=0}
      END {if (u!="" && s && !done) print u}' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v c="$codename" '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^(https?|ftp|file|mirror):/ && $(i+1)==c) {print $i; exit}}' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

updated=0
apt_update() { [ $updated -eq 1 ] || { $SUDO apt-get update -qq; updated=1; }; }

apt_update
llhttp_from=""
if printf '%s\n' "${missing[@]}" | grep -qx libllhttp-dev; then
  if [ -z "$(apt-cache policy libllhttp-dev 2>/dev/null | awk '/Candidate:/ {print $2}' | grep -v none)" ]; then
    next=$(next_release "$codename")
    mirror=$(debian_mirror)
    if [ -z "$next" ] || [ -z "$mirror" ]; then
      echo "setup: libllhttp-dev is not packaged for '$codename' and no Debian mirror was found in apt sources" >&2
      exit 1
    fi
    echo "setup: adding $next from $mirror, pinned at priority 50, for libllhttp-dev only"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$next" | $SUDO tee /etc/apt/sources.list.d/rviewer-$next.sources >/dev/null
    # Priority 50 (< 100, the priority of installed packages): nothing is ever
    # upgraded or installed from $next unless asked for by name.
    printf 'Package: *\nPin: release n=%s\nPin-Priority: 50\n' "$next" \
      | $SUDO tee /etc/apt/preferences.d/rviewer-$next.pref >/dev/null
    updated=0; apt_update
    llhttp_from="$next"
  fi
fi

pkgs=()
for p in "${missing[@]}"; do
  if [ "$p" = libllhttp-dev ] && [ -n "$llhttp_from" ]; then
    # Name the library package too so both come from the pinned release.
    lib=$(apt-cache show "libllhttp-dev/$llhttp_from" | awk '/^Depends:/ {print}' | grep -o 'libllhttp[0-9.]*' | head -n1)
    pkgs+=("libllhttp-dev/$llhttp_from")
    [ -n "$lib" ] && pkgs+=("$lib/$llhttp_from")
  else
    pkgs+=("$p")
  fi
done
echo "setup: installing ${pkgs[*]}"
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
