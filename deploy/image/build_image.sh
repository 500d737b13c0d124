#!/usr/bin/env bash
# Build the KlikkFlow image from deploy/Dockerfile (`make image`; not part of `make test`).
#
#   deploy/image/build_image.sh [TAG]        # default klikkflow:dev
#
# PYTHON_IMAGE selects the base. Unset, it is klikkflow-base:bookworm, debootstrapped from the
# Debian mirror by build_base.sh when missing (a machine that reaches no image registry); set it
# to python:3.11-slim-bookworm where a registry is reachable. PIP_CA is a CA bundle handed to pip
# as the build secret `pip_ca` (default the system bundle; PIP_CA= passes none). DOCKER names
# the client; BuildKit is needed, so a client without buildx (Docker 23+) is skipped for
# Debian's docker.io 20.10 client at /usr/bin/docker, which has BuildKit built in.
set -euo pipefail

tag="${1:-klikkflow:dev}"
base="${PYTHON_IMAGE:-klikkflow-base:bookworm}"
pip_ca="${PIP_CA-/etc/ssl/certs/ca-certificates.crt}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

buildkit_client() {
  local candidate major
  for candidate in ${DOCKER:-docker /usr/bin/docker}; do
    command -v "$candidate" >/dev/null || continue
    if "$candidate" buildx version >/dev/null 2>&1; then
      echo "$candidate"
      return
    fi
    major="$("$candidate" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)" || continue
    if [[ -n $major && $major -lt 23 ]]; then  # the client's own BuildKit, enabled below
      echo "$candidate"
      return
    fi
  done
  echo "build_image.sh: no Docker client with BuildKit found (tried: ${DOCKER:-docker /usr/bin/docker})." \
    "Fix: install the buildx plugin, or set DOCKER to a 20.10 client (Debian's docker.io)." >&2
  exit 1
}

docker="$(buildkit_client)"
export DOCKER_BUILDKIT=1

if [[ -z ${PYTHON_IMAGE:-} ]] && ! "$docker" image inspect "$base" >/dev/null 2>&1; then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DOCKER="$docker" "$root/deploy/image/build_base.sh" "$base"
fi

secret=()
if [[ -n $pip_ca ]]; then
  [[ -r $pip_ca ]] || { echo "build_image.sh: PIP_CA=$pip_ca is not readable. Fix: name a CA bundle or set PIP_CA=" >&2; exit 1; }
  secret=(--secret "id=pip_ca,src=$pip_ca")
fi

started=$SECONDS
"$docker" build -f "$root/deploy/Dockerfile" --build-arg "PYTHON_IMAGE=$base" "${secret[@]}" \
  ${IMAGE_BUILD_FLAGS:-} -t "$tag" "$root"
echo "build_image.sh: built $tag on $base in $((SECONDS - started)) s," \
  "$("$docker" image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')"
