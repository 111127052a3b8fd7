#!/usr/bin/env bash
# Runs socsim's `avx2_subset` tests on an emulated AVX2/FMA3 CPU (no AVX-512), where onnxruntime's
# MLAS picks its AVX2/FMA3 kernels: the independent reference for Arithmetic(float_kernels=
# "mlas_fma3") on a host whose own kernels are AVX-512F. Needs Debian's qemu-user
# (qemu-x86_64) and the project's venv; emulation is slow, hence the small marked subset.
#
#   tools/qemu_avx2.sh                       # tests/kernels/test_mlas.py and tests/zoo
#   tools/qemu_avx2.sh tests/zoo -x          # other paths / pytest options
#
# Environment: PYTHON (default .venv/bin/python), QEMU_CPU (default Haswell).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
cpu=${QEMU_CPU:-Haswell}
if [ $# -eq 0 ]; then
    set -- tests/kernels/test_mlas.py tests/zoo
fi
# The subset asserts that the emulated host really selects the FMA3 family (see
# test_mlas.py::test_emulated_host_selects_the_expected_family).
export SOCSIM_EXPECT_FLOAT_KERNELS=mlas_fma3
# TCG warns once per CPUID feature it cannot emulate (tsc-deadline, hle, ...): not our concern.
qemu-x86_64 -cpu "$cpu" "$python" -m pytest -q -p no:cacheprovider -m avx2_subset "$@" \
    2> >(grep -v "TCG doesn't support requested feature" >&2)
