#!/usr/bin/env bash
# The peers benchmark's own setup step (not part of scripts/setup or CI): installs Debian's
# python3-rq, python3-distributed (Dask) and python3-ipyparallel when they are missing and we
# are root; otherwise prints one line per peer that will be skipped. Never fails the benchmark.
set -uo pipefail

PY=/usr/bin/python3
declare -A module_of=([python3-rq]=rq [python3-distributed]=distributed [python3-ipyparallel]=ipyparallel)
packages=(python3-rq python3-distributed python3-ipyparallel)

has_module() { [ -x "$PY" ] && "$PY" -c "import $1" >/dev/null 2>&1; }

missing=()
for pkg in "${packages[@]}"; do
  has_module "${module_of[$pkg]}" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} from Debian's packages"
    if ! apt-get update -qq || ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      echo "setup: apt-get install ${missing[*]} failed"
    fi
  fi
  for pkg in "${missing[@]}"; do
    has_module "${module_of[$pkg]}" ||
      echo "setup: skipping ${module_of[$pkg]}: $pkg is not installed (run as root with apt-get, or apt-get install $pkg)"
  done
fi
exit 0
