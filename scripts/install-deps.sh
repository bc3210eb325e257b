#!/usr/bin/env bash
# Installs the Debian 12 packages Sparrow needs, skipping those already installed, so a second
# run costs a few dpkg queries. Usage: scripts/install-deps.sh [build] [run] [test] [bench]
# (default: build run). Needs root (or sudo) only when something is missing.
set -euo pipefail

declare -A GROUPS_PKGS=(
  [build]="g++ cmake ninja-build pkg-config make
           libpaho-mqttpp-dev libpaho-mqtt-dev libmosquitto-dev mosquitto-dev
           nlohmann-json3-dev libsoci-dev libsqlite3-dev libmariadb-dev
           libcpp-httplib-dev libsodium-dev libssl-dev libcpp-jwt-dev
           prometheus-cpp-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
           libgtest-dev libgmock-dev libbenchmark-dev"
  [run]="mosquitto mosquitto-clients curl ca-certificates"
  [test]="mariadb-server mariadb-client python3 python3-paho-mqtt sqlite3 docker-compose
          clang-14 libclang-rt-14-dev procps iproute2"
  [bench]="linux-perf valgrind procps"
)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build run)

wanted=()
for g in "${groups[@]}"; do
  [ -n "${GROUPS_PKGS[$g]+x}" ] || { echo "install-deps: unknown group '$g' (build, run, test, bench)" >&2; exit 2; }
  for p in ${GROUPS_PKGS[$g]}; do wanted+=("$p"); done
done

missing=()
for p in $(printf '%s\n' "${wanted[@]}" | sort -u); do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "sparrow: installing ${#missing[@]} Debian package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Packages such as mariadb-server and mosquitto try to start their system service on install;
# Sparrow never uses those, so tell invoke-rc.d not to (restored afterwards).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  created_policy=1
fi
cleanup() { [ "$created_policy" = 1 ] && $SUDO rm -f "$policy"; true; }
trap cleanup EXIT

if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
  echo "sparrow: fetching the package lists (apt-get update)"
  $SUDO apt-get update -q >/tmp/sparrow-apt-update.log 2>&1 || { tail -20 /tmp/sparrow-apt-update.log >&2; exit 1; }
fi
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/sparrow-apt.log 2>&1; then
  echo "sparrow: apt-get install failed; refreshing the package lists and retrying" >&2
  $SUDO apt-get update -q >/tmp/sparrow-apt-update.log 2>&1 || { tail -20 /tmp/sparrow-apt-update.log >&2; exit 1; }
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/sparrow-apt.log 2>&1 \
    || { tail -30 /tmp/sparrow-apt.log >&2; exit 1; }
fi
echo "sparrow: packages installed"
