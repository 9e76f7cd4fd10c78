#!/usr/bin/env bash
# Install what scripts/check-nix.sh needs, idempotently:
#   - Debian's nix-bin (nix-instantiate: parse and evaluate, no store needed)
#     and pyflakes3 (lints the NixOS tests' Python), with apt-get;
#   - nixfmt (crate nixfmt_rs) and deadnix from crates.io, with
#     `cargo install --locked` into a cache folder outside the clone.
# Re-running with everything present installs nothing.
#
# Prints the folder to put on PATH (the cached tools' bin/) on stdout.
set -euo pipefail

CACHE_DIR="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
TOOLS="$CACHE_DIR/tools"
NIXFMT_VERSION=0.5.3
DEADNIX_VERSION=1.3.1

missing_debs=()
command -v nix-instantiate >/dev/null || missing_debs+=(nix-bin)
command -v pyflakes3 >/dev/null || missing_debs+=(pyflakes3)
if [ ${#missing_debs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-nix-tools: need root to install ${missing_debs[*]} (apt-get)" >&2
    exit 1
  fi
  {
    echo "install-nix-tools: apt-get install ${missing_debs[*]}"
    apt-get install -y --no-install-recommends "${missing_debs[@]}" ||
      { apt-get update && apt-get install -y --no-install-recommends "${missing_debs[@]}"; }
  } >&2
fi

install_crate() { # crate version binary
  if [ -x "$TOOLS/bin/$3" ] && "$TOOLS/bin/$3" --version 2>/dev/null | grep -q "$2"; then
    return
  fi
  echo "install-nix-tools: cargo install $1 $2" >&2
  cargo install --locked --root "$TOOLS" --version "$2" "$1" >&2
}
install_crate nixfmt_rs "$NIXFMT_VERSION" nixfmt
install_crate deadnix "$DEADNIX_VERSION" deadnix

echo "$TOOLS/bin"
