#!/usr/bin/env bash
# Runs the tests marked avx2_subset on an emulated AVX2 host without AVX-512 or VNNI
# (qemu-x86_64 -cpu Haswell), where onnxruntime's MLAS takes its AVX2 U8S8 kernels
# (VPMADDUBSW: saturating int16 pairs). Slow (qemu's TCG): not part of CI.
#
# Usage: tools/qemu_avx2.sh [pytest arguments, e.g. tests/kernels/test_pairs.py -k resnet8]
# Needs Debian's qemu-user (qemu-x86_64) and the project's .venv (python3 -m venv .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CPU=${QEMU_CPU:-Haswell}
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not found (apt-get install qemu-user)" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "$PYTHON not found (python3 -m venv .venv && pip install -e '.[test]')" >&2; exit 2; }
# numba compiles for the CPU it sees; a separate cache keeps the host's AVX-512 code apart.
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/socsim/numba-qemu-$CPU}
# TCG warns about every CPUID feature it cannot emulate; those lines are noise.
qemu-x86_64 -cpu "$CPU" "$PYTHON" -c \
    'from socsim.kernels.host import host_isa; print("emulated host:", host_isa())' 2> >(grep -v "TCG doesn't support" >&2)
if [ $# -eq 0 ]; then
    set -- tests/kernels
fi
exec qemu-x86_64 -cpu "$CPU" "$PYTHON" -m pytest -m avx2_subset -p no:cacheprovider "$@" \
    2> >(grep -v "TCG doesn't support" >&2)
