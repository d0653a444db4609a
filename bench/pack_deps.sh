#!/usr/bin/env bash
# Packs proxima's header-only build dependencies (Eigen 3.4, doctest) from this machine's
# Debian packages into .deps/ (git-ignored), laid out as an install prefix, so that a
# machine without those packages and without network can configure with
#   cmake -DCMAKE_PREFIX_PATH=<repo>/.deps ...
# Usage: bench/pack_deps.sh            (writes <repo>/.deps; about 10 MB)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps=$root/.deps

for need in /usr/include/eigen3/Eigen /usr/share/eigen3/cmake/Eigen3Config.cmake \
            /usr/include/doctest/doctest.h /usr/lib/cmake/doctest/doctestConfig.cmake; do
  [ -e "$need" ] || { echo "pack_deps: missing $need (install libeigen3-dev and doctest-dev)" >&2; exit 1; }
done

rm -rf "$deps"
mkdir -p "$deps/include" "$deps/share/eigen3" "$deps/lib/cmake"
cp -r /usr/include/eigen3 "$deps/include/"
cp -r /usr/share/eigen3/cmake "$deps/share/eigen3/"          # finds its prefix relative to itself
cp -r /usr/include/doctest "$deps/include/"
cp -r /usr/lib/cmake/doctest "$deps/lib/cmake/"
# doctest's exported targets hard-code the prefix /usr: make it relative to the file.
sed -i 's|^set(_IMPORT_PREFIX "/usr")|get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)|' \
  "$deps/lib/cmake/doctest/doctestTargets.cmake"
grep -q 'CMAKE_CURRENT_LIST_DIR}/../../..' "$deps/lib/cmake/doctest/doctestTargets.cmake" ||
  { echo "pack_deps: could not relocate doctestTargets.cmake" >&2; exit 1; }
echo "pack_deps: wrote $deps ($(du -sh "$deps" | cut -f1))"
