#!/usr/bin/env bash
# Installs the Debian packages the tests need, when they are missing:
#   clang lld wasi-libc   build C guest modules (tests rebuild and compare them)
#   gcc libpam0g-dev      build pam_wasm.so and the small native PAM modules some tests load
#   openssh-server        the end-to-end test of pam_wasm.so inside the real sshd
#   openssh-client sshpass  drive the SSH example with the real ssh client
#   systemd               systemd-socket-activate: the daemon started as pamwasm.socket starts it
#   chromium              the browser the playground page tests drive (playwright-core, never a downloaded browser)
# As root with apt-get, missing ones are installed; otherwise the command to
# run is printed and the script fails.
set -euo pipefail
packages=(clang lld wasi-libc gcc libpam0g-dev openssh-client sshpass openssh-server systemd chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing Debian packages the tests need: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "the tests need these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
