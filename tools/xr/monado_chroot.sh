#!/usr/bin/env bash
# A real OpenXR runtime for the headset tests: Monado from Debian 13 (trixie) in a debootstrap chroot.
#
# Monado is packaged in Debian 13 only, and its runtime library loads into the *client* process (it
# needs trixie's glibc and libstdc++), so both the service and the test client run inside the chroot.
# The service runs with the null compositor (Vulkan on Mesa's lavapipe, no window) and a simulated
# headset, under an Xvfb that also runs inside the chroot (the client's GL session is GLX on Xlib and
# imports the runtime's swapchain memory with GL_EXT_memory_object_fd, which trixie's llvmpipe has).
#
#   tools/xr/monado_chroot.sh provision     build or update the chroot (idempotent; root; a few minutes)
#   tools/xr/monado_chroot.sh exec CMD...   run CMD in the chroot, checkout at /src, DISPLAY/XR env set
#   tools/xr/monado_chroot.sh path          print the chroot's path
#
# The chroot is cached at $SPATIALDREAMER_XR_CHROOT (default /var/cache/spatialdreamer/monado-trixie).
# `exec` runs in a private mount namespace (unshare -m), so nothing stays mounted after it returns.
# Starting Xvfb and monado-service, and stopping them, is tests/xr/support/runtime.py's job.
set -euo pipefail

ROOT="${SPATIALDREAMER_XR_CHROOT:-/var/cache/spatialdreamer/monado-trixie}"
MIRROR="${SPATIALDREAMER_XR_MIRROR:-http://deb.debian.org/debian}"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
# Bump when the package list or the venv changes: provision then rebuilds what is missing.
LAYOUT=3
PACKAGES=(
  monado-service libopenxr1-monado          # the runtime: service + the client-side library
  mesa-vulkan-drivers libvulkan1            # lavapipe Vulkan ICD for the null compositor
  xvfb xauth libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 libx11-6   # GLX on Xvfb for the client
  python3 python3-venv ca-certificates procps
)
VENV=/opt/sdxr-venv
PIP_PACKAGES=(numpy PyOpenGL pyopenxr setuptools)

die() { echo "monado_chroot: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot); try sudo"; }

provision() {
  need_root
  if [ -f "$ROOT/.sdxr-layout" ] && [ "$(cat "$ROOT/.sdxr-layout")" = "$LAYOUT" ]; then
    echo "monado_chroot: $ROOT is ready (layout $LAYOUT)"; return 0
  fi
  command -v debootstrap >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  local t0=$SECONDS
  if [ ! -x "$ROOT/usr/bin/apt-get" ] || [ ! -f "$ROOT/.sdxr-debootstrap" ]; then
    rm -rf "$ROOT.partial"; mkdir -p "$(dirname "$ROOT")"
    echo "monado_chroot: debootstrap trixie into $ROOT (from $MIRROR)"
    debootstrap --variant=minbase trixie "$ROOT.partial" "$MIRROR" >"$(dirname "$ROOT")/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $(dirname "$ROOT")/debootstrap.log"
    touch "$ROOT.partial/.sdxr-debootstrap"
    rm -rf "$ROOT"; mv "$ROOT.partial" "$ROOT"
    echo "monado_chroot: debootstrap done in $((SECONDS - t0)) s"
  fi
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  # pip inside the chroot uses the host's CA bundle and pip configuration (same registries).
  mkdir -p "$ROOT/etc/sdxr"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/sdxr/ca.crt"
  in_chroot "apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends ${PACKAGES[*]} >/dev/null" \
    || die "apt-get install in the chroot failed"
  in_chroot "test -x $VENV/bin/python || python3 -m venv $VENV; \
    PIP_CERT=/etc/sdxr/ca.crt $VENV/bin/python -m pip install -q --disable-pip-version-check ${PIP_PACKAGES[*]}" \
    || die "pip install in the chroot venv failed"
  in_chroot "test -f /usr/share/openxr/1/openxr_monado.json" || die "openxr_monado.json missing in the chroot"
  echo "$LAYOUT" >"$ROOT/.sdxr-layout"
  echo "monado_chroot: provisioned in $((SECONDS - t0)) s"
}

# in_chroot SCRIPT: run a shell script inside the chroot, with /proc, /sys, /dev and the checkout
# mounted in a private mount namespace that disappears with the process.
in_chroot() {
  need_root
  [ -d "$ROOT/usr" ] || die "no chroot at $ROOT; run: $0 provision"
  SDXR_ROOT="$ROOT" SDXR_SRC="$SRC" SDXR_SCRIPT="$1" unshare -m --propagation private sh -c '
    set -e
    mount -t proc proc "$SDXR_ROOT/proc"
    mount --rbind /sys "$SDXR_ROOT/sys"
    mount --rbind /dev "$SDXR_ROOT/dev"
    mkdir -p "$SDXR_ROOT/src" "$SDXR_ROOT/run/sdxr" "$SDXR_ROOT/tmp/.X11-unix"
    chmod 1777 "$SDXR_ROOT/tmp" "$SDXR_ROOT/tmp/.X11-unix"; chmod 700 "$SDXR_ROOT/run/sdxr"
    mount --bind "$SDXR_SRC" "$SDXR_ROOT/src"
    exec chroot "$SDXR_ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
      XDG_RUNTIME_DIR=/run/sdxr DISPLAY="${SDXR_DISPLAY:-:99}" \
      XR_RUNTIME_JSON=/usr/share/openxr/1/openxr_monado.json \
      PYTHONPATH=/src PYTHONDONTWRITEBYTECODE=1 $SDXR_ENV \
      /bin/sh -c "$SDXR_SCRIPT"
  '
}

case "${1:-}" in
  provision) provision ;;
  path) echo "$ROOT" ;;
  exec) shift; [ $# -gt 0 ] || die "usage: $0 exec CMD..."; in_chroot "exec $(printf '%q ' "$@")" ;;
  *) echo "usage: $0 provision | exec CMD... | path" >&2; exit 2 ;;
esac
