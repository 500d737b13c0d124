#!/usr/bin/env bash
# Build a Debian bookworm base image with Python 3.11 from the Debian package mirror alone,
# for machines that reach no image registry (deploy/Dockerfile takes it as PYTHON_IMAGE).
#
#   sudo deploy/image/build_base.sh [TAG]          # default klikkflow-base:bookworm
#
# debootstrap (minbase) installs python3 (3.11), python3-venv, ca-certificates and tzdata into
# a fresh root filesystem, which `docker import` turns into a one-layer image. Needs root,
# debootstrap (`apt-get install debootstrap`) and a Docker engine. DEBIAN_MIRROR selects the
# mirror (default http://deb.debian.org/debian).
set -euo pipefail

tag="${1:-klikkflow-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
docker="${DOCKER:-docker}"

if [[ $(id -u) -ne 0 ]]; then
  echo "build_base.sh: debootstrap needs root. Fix: run it with sudo." >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "build_base.sh: debootstrap is not installed. Fix: apt-get install -y debootstrap" >&2
  exit 1
}

started=$SECONDS
rootfs="$(mktemp -d /var/tmp/klikkflow-base.XXXXXX)"
trap 'rm -rf --one-file-system "$rootfs"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tzdata \
  bookworm "$rootfs" "$mirror"
# Package lists and downloaded .debs are not needed at run time.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*

python_version="$(chroot "$rootfs" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
tar --numeric-owner --xattrs -C "$rootfs" -c . | "$docker" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --change "LABEL org.opencontainers.image.description=\"Debian bookworm minbase with Python ${python_version} (debootstrap from ${mirror})\"" \
  - "$tag"
echo "build_base.sh: built $tag (Python $python_version) in $((SECONDS - started)) s"
