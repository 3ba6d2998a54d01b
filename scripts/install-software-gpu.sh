#!/usr/bin/env bash
# Installs a software WebGPU adapter so the GPU test suites run on a machine without a GPU:
# Mesa >= 24 lavapipe (Vulkan on the CPU) from Debian 12's bookworm-backports. Debian 12's own
# Mesa 22 lavapipe is refused by Dawn ("shaderUniform*ArrayDynamicIndexing required").
# Idempotent and quick when already installed. Needs root or sudo. See README, "Software GPU".
set -euo pipefail

installed_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
good_enough() { local v; v=$(installed_version); [[ -n "$v" ]] && dpkg --compare-versions "$v" ge 24; }

if good_enough; then
  echo "software GPU: mesa-vulkan-drivers $(installed_version) already installed"
  exit 0
fi

sudo=''
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo='sudo'; else
    echo "software GPU: needs root to install mesa-vulkan-drivers (run as root or install sudo)" >&2
    exit 1
  fi
fi

. /etc/os-release
if [[ "${VERSION_CODENAME:-}" != bookworm ]]; then
  echo "software GPU: this script knows Debian 12 (bookworm); here is ${PRETTY_NAME:-unknown}." >&2
  echo "Install Mesa >= 24 Vulkan drivers (lavapipe) with your package manager instead." >&2
  exit 1
fi

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Use the mirror this machine already uses for Debian itself.
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uri=${uri:-http://deb.debian.org/debian}
  echo "software GPU: adding bookworm-backports from $uri"
  $sudo tee /etc/apt/sources.list.d/lastmile-backports.sources >/dev/null <<SOURCES
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi

# Unrelated sources that cannot be reached must not stop us: the install below is what counts.
$sudo apt-get update -qq || echo "software GPU: apt-get update reported errors; trying the install anyway" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  -t bookworm-backports mesa-vulkan-drivers >/dev/null
good_enough || { echo "software GPU: mesa-vulkan-drivers >= 24 did not install" >&2; exit 1; }
echo "software GPU: installed mesa-vulkan-drivers $(installed_version)"
