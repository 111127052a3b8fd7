#!/usr/bin/env bash
# Runs the tests marked avx2_subset on an emulated AVX2/FMA3 host without AVX-512 or VNNI
# (qemu-x86_64 -cpu Haswell), where onnxruntime's MLAS takes its AVX2 kernels: U8S8 GEMM with
# VPMADDUBSW (saturating int16 pairs) and the FMA3 float kernels (8-lane Softmax sums). It is
# the independent reference for Arithmetic(dot="u8s8_pairs_int16", float_kernels="mlas_fma3").
# Slow (qemu's TCG): not part of CI.
#
#   tools/qemu_avx2.sh                                   # tests/kernels and tests/zoo
#   tools/qemu_avx2.sh tests/kernels/test_pairs.py -k resnet8
#
# Needs Debian's qemu-user (qemu-x86_64) and the project's venv.
# Environment: PYTHON (default .venv/bin/python), QEMU_CPU (default Haswell).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CPU=${QEMU_CPU:-Haswell}
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not found (apt-get install qemu-user)" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "$PYTHON not found (python3 -m venv .venv && pip install -e '.[test]')" >&2; exit 2; }
# numba compiles for the CPU it sees; a separate cache keeps the host's AVX-512 code apart.
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/socsim/numba-qemu-$CPU}
# The subset asserts that the emulated host really selects the FMA3 float family
# (test_mlas.py::test_emulated_host_selects_the_expected_family).
export SOCSIM_EXPECT_FLOAT_KERNELS=mlas_fma3
# TCG warns about every CPUID feature it cannot emulate; those lines are noise.
qemu-x86_64 -cpu "$CPU" "$PYTHON" -c \
    'from socsim.kernels.host import host_isa; print("emulated host:", host_isa())' \
    2> >(grep -v "TCG doesn't support" >&2)
if [ $# -eq 0 ]; then
    set -- tests/kernels tests/zoo
fi
exec qemu-x86_64 -cpu "$CPU" "$PYTHON" -m pytest -q -m avx2_subset -p no:cacheprovider "$@" \
    2> >(grep -v "TCG doesn't support" >&2)
