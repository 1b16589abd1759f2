#!/usr/bin/env bash
# System packages the tests need (Debian): installs only what is missing, and only as root.
# Without root, tests that need these skip and say why.
set -euo pipefail
packages=(gcc make python3 linux-perf openssh-server openssh-client sudo procps chromium util-linux coreutils gzip golang-go time)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: missing system packages (${missing[*]}); tests that need them will skip" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
