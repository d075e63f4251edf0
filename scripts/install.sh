#!/usr/bin/env bash
# Installs rviewer for the current user: the binary, its configuration (kept if there
# is one already), the docs, and a systemd user unit. Called by `make install`.
#   scripts/install.sh BINARY [PREFIX]   (PREFIX defaults to ~/.local)
# Environment: XDG_CONFIG_HOME (default ~/.config) says where the config and unit go.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:?usage: scripts/install.sh BINARY [PREFIX]}
prefix=${2:-$HOME/.local}
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
bindir=$prefix/bin
docdir=$prefix/share/doc/rviewer
unitdir=$config_home/systemd/user

install -d "$bindir" "$docdir" "$unitdir" "$config_home/rviewer"
install -m 755 "$binary" "$bindir/rviewer"
install -m 644 README.md docs/USAGE.md docs/API.md "$docdir/"
if [ ! -e "$config_home/rviewer/rviewer.json" ]; then
  install -m 600 config/rviewer.json "$config_home/rviewer/rviewer.json"
fi
sed -e "s|@BINDIR@|$bindir|g" -e "s|@DOCDIR@|$docdir|g" config/rviewer.service > "$unitdir/rviewer.service.tmp"
mv "$unitdir/rviewer.service.tmp" "$unitdir/rviewer.service"
echo "installed $bindir/rviewer, $unitdir/rviewer.service, $config_home/rviewer/rviewer.json"
case ":$PATH:" in *":$bindir:"*) ;; *) echo "note: $bindir is not on your PATH" ;; esac
echo "start it with: systemctl --user daemon-reload && systemctl --user enable --now rviewer"
