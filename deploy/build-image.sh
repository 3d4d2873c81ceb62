#!/usr/bin/env bash
# Build the jsm-autopilot container image: first the wheelhouse, built by the base image's own
# Python (Debian bookworm's python3 is 3.11.2, and some current wheels want 3.11.5: pip inside the
# base picks what that Python can run), then the image, which installs from it with no index.
#
#   deploy/build-image.sh [--local-base] [--tag TAG] [--base IMAGE]
#
#   --local-base  where no registry can be reached: build the base from Debian's packages
#                 (debootstrap with the mirror apt already uses, then `docker import`), with
#                 Debian's python3. Kept as jsm-autopilot-base:<suite> and reused; --rebuild-base renews it.
#   --tag TAG     the image's name (default jsm-autopilot:latest); only local names are used.
#   --base IMAGE  the base (default python:3.11-slim-bookworm, pulled by Docker if not present).
set -euo pipefail
cd "$(dirname "$0")/.."

tag="jsm-autopilot:latest"
base="${BASE:-python:3.11-slim-bookworm}"
local_base=0
rebuild_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --local-base) local_base=1 ;;
    --rebuild-base) local_base=1; rebuild_base=1 ;;
    --tag) tag="${2:?--tag needs a name}"; shift ;;
    --base) base="${2:?--base needs an image}"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  cat >&2 <<'HELP'
build-image.sh: Docker's daemon does not answer.
  With Debian's docker.io installed (apt-get install docker.io), start it:
    sudo systemctl start docker                          # where systemd runs
    sudo sh -c 'dockerd >/var/log/dockerd.log 2>&1 &'    # where it does not (a container, CI)
HELP
  exit 1
fi

apt_mirror() {
  # The mirror apt already uses: deb822 sources first, then the one-line format.
  local found
  found=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$found" ] || found=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n1 || true)
  echo "${found:-http://deb.debian.org/debian}"
}

build_local_base() {
  local suite mirror rootfs
  suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}")
  [ -n "$suite" ] || suite=bookworm
  base="jsm-autopilot-base:${suite}"
  if [ "$rebuild_base" = 0 ] && docker image inspect "$base" >/dev/null 2>&1; then
    say "base $base is there (--rebuild-base renews it)"
    return
  fi
  command -v debootstrap >/dev/null || { echo "build-image.sh: --local-base needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  mirror=$(apt_mirror)
  rootfs=$(mktemp -d /var/tmp/jsm-autopilot-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrap $suite from $mirror (a few minutes)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; echo "build-image.sh: debootstrap failed (log: $rootfs.log)" >&2; exit 1; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs.log"
  say "docker import $base"
  tar -C "$rootfs" -c . | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
}

[ "$local_base" = 1 ] && build_local_base

# The wheelhouse is kept between builds (pip reuses what fits); the project's own wheel is renewed.
context=build/image
mkdir -p "$context/wheelhouse"
rm -f "$context"/wheelhouse/jsm_autopilot-*.whl
cp app.yaml "$context/"

say "wheel of the project"
# setuptools copies the packages into build/lib and keeps what an earlier build left there: a module
# or folder since moved or removed would go into the wheel. Start from an empty one.
rm -rf build/lib build/bdist.*
python3 -m pip wheel --quiet --no-deps --wheel-dir "$context/wheelhouse" . >&2

say "wheelhouse for $base's own Python"
pass_env=()
for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT HTTPS_PROXY HTTP_PROXY NO_PROXY; do
  [ -n "${!name:-}" ] && pass_env+=(-e "$name")
done
# The certificates the host's pip trusts (a company proxy's own CA, say) are trusted inside too.
ca_bundle="${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}"
[ -n "$ca_bundle" ] || ca_bundle=/etc/ssl/certs/ca-certificates.crt
if [ -f "$ca_bundle" ]; then
  pass_env+=(-v "$(readlink -f "$ca_bundle"):/run/host-ca.crt:ro" -e PIP_CERT=/run/host-ca.crt)
fi
docker run --rm --pull never --network host --user "$(id -u):$(id -g)" -e HOME=/tmp "${pass_env[@]}" \
  -v "$PWD/$context/wheelhouse:/wheelhouse" "$base" \
  sh -c 'python3 -m venv /tmp/pip && /tmp/pip/bin/pip wheel --quiet --disable-pip-version-check --wheel-dir /wheelhouse --find-links /wheelhouse jsm-autopilot' >&2

say "image $tag on $base"
docker build --network host --build-arg "BASE=$base" --tag "$tag" --file Dockerfile "$context" >&2
# The install stage (wheelhouse and pip) is not part of the image, and the image this tag named
# before is now nameless: neither is kept, or each build would leave most of a gigabyte behind.
docker image prune --force --filter label=jsm-autopilot.stage=install >/dev/null
docker image prune --force --filter label=org.opencontainers.image.title=jsm-autopilot >/dev/null
say "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$tag"
