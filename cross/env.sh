# shellcheck shell=bash
# cross/env.sh: sourced by cross/build, cross/test and cross/package.
# Maps a short target name (aarch64 | armv7 | amd64 | amd64-musl) to the Rust
# triple, the Debian architecture, the cross gcc and the qemu-user binary, and
# exports the cargo/cc/bindgen variables a cross build needs. Owns nothing else.
#
# The binaries and packages we build, in one place. The shore is added only
# when its crate exists (it is being written in uplink/shore).
SEAFRAME_BINS=(seaframe-agent)
if [ -f "$SEAFRAME_ROOT/uplink/shore/Cargo.toml" ]; then
  SEAFRAME_BINS+=(seaframe-shore)
fi

# Usage: seaframe_target <short-name>; sets TRIPLE DEB_ARCH GCC_PREFIX QEMU SYSROOT
# and the Debian packages the build needs in CROSS_DEBS.
seaframe_target() {
  case "$1" in
    aarch64)
      TRIPLE=aarch64-unknown-linux-gnu DEB_ARCH=arm64 GCC_PREFIX=aarch64-linux-gnu QEMU=qemu-aarch64
      CROSS_DEBS=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross linux-libc-dev-arm64-cross) ;;
    armv7)
      TRIPLE=armv7-unknown-linux-gnueabihf DEB_ARCH=armhf GCC_PREFIX=arm-linux-gnueabihf QEMU=qemu-arm
      CROSS_DEBS=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross linux-libc-dev-armhf-cross) ;;
    amd64)
      TRIPLE=x86_64-unknown-linux-gnu DEB_ARCH=amd64 GCC_PREFIX= QEMU=
      CROSS_DEBS=() ;;
    amd64-musl)
      TRIPLE=x86_64-unknown-linux-musl DEB_ARCH=amd64 GCC_PREFIX= QEMU=
      CROSS_DEBS=(musl-tools) ;;
    *)
      echo "unknown target '$1': expected aarch64, armv7, amd64 or amd64-musl" >&2
      return 2 ;;
  esac
  SYSROOT=${GCC_PREFIX:+/usr/$GCC_PREFIX}
  local t=${TRIPLE//-/_}
  local T=${t^^}
  if [ -n "$GCC_PREFIX" ]; then
    export "CC_$t=$GCC_PREFIX-gcc" "CXX_$t=$GCC_PREFIX-g++" "AR_$t=$GCC_PREFIX-ar"
    export "CARGO_TARGET_${T}_LINKER=$GCC_PREFIX-gcc"
    # bindgen (v4l2-sys) parses the kernel headers of the target, not the host's.
    export "BINDGEN_EXTRA_CLANG_ARGS_$t=--sysroot=$SYSROOT --target=$GCC_PREFIX"
    export "CARGO_TARGET_${T}_RUNNER=$QEMU -L $SYSROOT"
  fi
  if [ "$1" = amd64-musl ]; then
    export "CC_$t=musl-gcc"
    # v4l2-sys: the musl-gcc wrapper has no linux/ headers of its own.
    export "BINDGEN_EXTRA_CLANG_ARGS_$t=-I/usr/include -I/usr/include/x86_64-linux-gnu"
  fi
}

# Installs the Debian packages in "$@" that are missing (as root), or says
# which command to run.
seaframe_apt() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "installing: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
}
