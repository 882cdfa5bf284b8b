#!/usr/bin/env bash
# Installs the Debian packages lvsctl's tests need. Idempotent and quiet when
# everything is present: it asks dpkg first and runs apt-get only for what is
# missing.
set -euo pipefail

packages=(
  qemu-system-x86   # the VM tier: real IPVS in Debian's stock kernel
  linux-image-amd64 # that kernel and its modules
  busybox-static    # the guest's userland
  cpio xz-utils zstd kmod
  keepalived        # reference VRRP peer for interop tests and benchmarks
  bird2             # BGP router for the BGP (ECMP) tests
  ipvsadm           # reads the kernel table back
  iproute2 arping iputils-ping tcpdump
  systemd           # systemd-analyze verify on the packaged units
  dpkg              # the .deb installed into a temporary root
  prometheus        # promtool: the alert rules and a live scrape checked
  chromium          # headless: the status page rendered and screenshotted
)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages ${missing[*]}; run 'make deps' as root" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
# Packages with daemons (keepalived) must not be started on this host:
# policy-rc.d tells Debian's maintainer scripts not to start services.
cleanup_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  cleanup_policy=1
fi
trap '[ -n "$cleanup_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
