"""Float32 routines that reproduce onnxruntime's CPU results bit for bit (MLAS, x86-64).

onnxruntime's float kernels are not "the float answer": each is one summation order, one
polynomial and one set of fused multiply-adds. The routines here follow the order of operations
of the x86-64 kernels (AVX2/FMA3 or newer; worked out from the MLAS sources and confirmed on
onnxruntime 1.32 against crafted inputs that tell the candidate orders apart) so that a float op
between a DequantizeLinear and a QuantizeLinear, or at a graph output, gives onnxruntime's bits:

* :func:`fma` is a correctly rounded float32 fused multiply-add (one rounding, like ``vfmadd``).
* :func:`erf` is MLAS's error function (``MlasComputeErf``): an odd polynomial in ``x**2`` below
  0.921875, ``1 - exp(-p(|x|))`` above, with MLAS's own exp polynomial and power-of-two scaling.
* :func:`layer_norm` is onnxruntime's float LayerNormalization: the MLAS row kernel for rows of 8
  or more elements, the scalar Welford loop below that.
* :func:`tanh` is MLAS's rational tanh (``MlasComputeTanh``) and :func:`gelu` onnxruntime's Gelu
  built on it or on :func:`erf`.
* Softmax lives in :mod:`socsim.kernels._mlas_softmax`.

Kernel families. MLAS picks its kernels per host (``platform.cpp``); socsim names the family it
follows in :attr:`Arithmetic.float_kernels <socsim.kernels.arithmetic.Arithmetic>`. Only Softmax's
sum-exp kernel differs between ``mlas_avx512f`` and ``mlas_fma3``. The routines here take the
family too, and give the same bits for both, because on x86-64 with AVX2 and FMA3:

* Erf and Tanh are ``MlasErfKernelFma3`` and ``MlasComputeTanhF32KernelFma3`` whether or not
  AVX-512F is present (platform.cpp never replaces them);
* Gelu gives the bits of plain float32 loops around that Erf or Tanh on both (the generic
  ``MlasGeluErfKernel`` is exactly that; AVX-512F's ``MlasGeluErfKernelAvx512F`` was found to
  agree with it on every input tried);
* LayerNormalization's row kernel is compiled code, not a dispatched MLAS kernel;
* MatMul's ``MlasGemmFloatKernelFma3`` and ``MlasGemmFloatKernelAvx512F`` both form each output as
  one fma chain in order of k over the K slice that the shared driver (``sgemm.cpp``) hands
  them; the slicing, the prepacking and the single-row kernel (``MlasSgemmKernelM1Avx``) are
  the same on both.

Each was confirmed with one-op models on onnxruntime 1.32 under ``qemu-x86_64 -cpu Haswell``
(``tools/qemu_avx2.sh``), which gives zero differing elements for both families' tests.
"""

from __future__ import annotations

import numpy as np

from socsim.kernels.arithmetic import FLOAT_KERNELS, FloatKernels

_F = np.float32
_D = np.float64


def fma(a: np.ndarray | float, b: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    """``a * b + c`` on float32 with a single rounding (to nearest, ties to even).

    The product of two float32 values is exact in float64, so ``p + c`` rounded to float64 and
    then to float32 is wrong only when the float64 sum lands exactly on a float32 midpoint (or
    in float32's subnormal range); those few elements are redone with the sum's exact error
    (TwoSum), whose sign says which way the exact value lies.
    """
    a64 = np.asarray(a, _F).astype(_D)
    b64 = np.asarray(b, _F).astype(_D)
    c64 = np.asarray(c, _F).astype(_D)
    with np.errstate(invalid="ignore", over="ignore"):
        p = a64 * b64
        s = p + c64
        r = s.astype(_F)
        bits = np.asarray(s).view(np.uint64)
        risky = ((bits & _MID_MASK) == _MID_BITS) | (np.abs(s) < _F_TINY)
        if not risky.any():
            return r
        p, c64, s = (np.broadcast_to(v, r.shape)[risky] for v in (p, c64, s))
        r = np.array(r, copy=True)
        bp = s - p
        err = (p - (s - bp)) + (c64 - bp)
        rr = s.astype(_F)
        r64 = rr.astype(_D)
        toward = np.nextafter(rr, np.where(s > r64, _F(np.inf), _F(-np.inf))).astype(_F)
        t64 = toward.astype(_D)
        tie = (s != r64) & ((r64 + t64) * 0.5 == s) & (err != 0)
        r[risky] = np.where(tie & ((err > 0) == (t64 > r64)), toward, rr)
    return r


# A float64 on a float32 rounding midpoint has its 29 low mantissa bits equal to 1 << 28.
_MID_MASK = np.uint64((1 << 29) - 1)
_MID_BITS = np.uint64(1 << 28)
_F_TINY = float(np.finfo(_F).tiny)


def check_family(float_kernels: str) -> FloatKernels:
    """``float_kernels`` itself, once known to name a modelled MLAS kernel family.

    Raises:
        ValueError: for a name not in :data:`~socsim.kernels.arithmetic.FLOAT_KERNELS`.
    """
    if float_kernels not in FLOAT_KERNELS:
        raise ValueError(f"float_kernels={float_kernels!r}; valid: {', '.join(FLOAT_KERNELS)}")
    return float_kernels  # type: ignore[return-value]


def _stride_k(k: int, n: int, packed_b: bool) -> int:
    # MLAS's sgemm walks K in slices: 256 for a prepacked B, else 128, traded for a narrower N
    # slice when N is small (MLAS_SGEMM_STRIDEN/STRIDEK and their adjustment in sgemm.cpp).
    return 256 if packed_b else _strides(k, n)[1]


def _strides(k: int, n: int) -> tuple[int, int]:
    """MLAS's ``(StrideN, StrideK)`` for ``K = k`` and ``n`` outputs: 128 x 128, traded for a
    wider N slice when K is small or a deeper K slice when N is small (sgemm.cpp, and
    ``MlasConvOperation`` per segment)."""
    stride_n = stride_k = 128
    if n >= k:
        while stride_k // 2 >= k:
            stride_n, stride_k = stride_n * 2, stride_k // 2
    else:
        while stride_n > 16 and stride_n // 2 >= n:
            stride_n, stride_k = stride_n // 2, stride_k * 2
    return stride_n, stride_k


def _gemm_m1(a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    # MlasSgemmKernelM1Avx: rows of B four at a time, products rounded and added in order,
    # the group's sum then added to C (no fma; C starts at ``c``, else 0); two and one
    # leftover rows the same way.
    k_total = a.shape[-1]
    c = np.zeros(_out_shape(a, b), _F) if c is None else c
    k = 0
    while k < k_total:
        step = 4 if k_total - k >= 4 else (2 if k_total - k >= 2 else 1)
        t = a[..., k:k + 1] * b[..., k:k + 1, :]
        for j in range(k + 1, k + step):
            t = t + a[..., j:j + 1] * b[..., j:j + 1, :]
        c = t + c
        k += step
    return c


def sgemm(a: np.ndarray, b: np.ndarray, *, packed_b: bool = False) -> np.ndarray:
    """``a @ b`` (float32, ``a`` ``[..., M, K]``, ``b`` ``[..., K, N]``) as MLAS's x86-64 sgemm.

    Each output is one fma chain over a K slice, in order of k, started from zero; the slices'
    results are added to C one after the other. A single row (M = 1, B not prepacked) goes to
    the AVX kernel for that case instead.

    Args:
        a: left operand, float32, at least 2-D (batch dims broadcast against ``b``'s).
        b: right operand, float32, at least 2-D.
        packed_b: True when onnxruntime prepacks ``b`` (a constant 2-D MatMul weight).
    """
    a = np.asarray(a, _F)
    b = np.asarray(b, _F)
    m, k_total = a.shape[-2:]
    if m == 1 and not packed_b:
        return _gemm_m1(a, b)
    stride = _stride_k(k_total, b.shape[-1], packed_b)
    c = np.zeros(_out_shape(a, b), _F)
    for k0 in range(0, k_total, stride):
        acc = np.zeros_like(c)
        for k in range(k0, min(k_total, k0 + stride)):
            acc = fma(a[..., k:k + 1], b[..., k:k + 1, :], acc)
        c = acc if k0 == 0 else c + acc
    return c


def _out_shape(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    return np.broadcast_shapes(a.shape[:-1] + (1,), b.shape[:-2] + (1, b.shape[-1]))


# MlasErfConstants (erf.cpp): the float32 literals of the two erf polynomials and of the exp
# approximation used for the large-argument branch.
_ERF_SPLIT = _F(0.921875)
_ERF_SMALL = tuple(_F(v) for v in (-5.99104969e-4, 4.99339588e-3, -2.67667342e-2,
                                    1.12818025e-1, -3.76124859e-1, 1.28379151e-1))
_ERF_BIG = tuple(_F(v) for v in (1.72948930e-5, -3.83208680e-4, 3.88393435e-3, -2.42545605e-2,
                                  1.06777847e-1, 6.34846687e-1, 1.28717512e-1))
_EXP_LOWER = _F(-88.3762626647949)
_EXP_LOG2_RECIP = _F(1.44269504088896341)
_EXP_LOG2_HI = _F(-6.93145752e-1)
_EXP_LOG2_LO = _F(-1.42860677e-6)
_EXP_POLY = tuple(_F(v) for v in (1.38319808e-3, 8.37550033e-3, 4.16689515e-2, 1.66664466e-1,
                                   4.99999851e-1, 1.0, 1.0))
_EXP_ROUND = _F(1.25829120e7)  # 1.5 * 2**23: adding and subtracting it rounds to an integer


def _horner(coeffs: tuple[np.float32, ...], x: np.ndarray) -> np.ndarray:
    r = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        r = fma(r, x, c)
    return r


def erf(x: np.ndarray) -> np.ndarray:
    """MLAS's float32 error function, elementwise (the vector kernel's arithmetic).

    Unlike the comment in erf.cpp suggests, the x86-64 kernel does not clamp ``|x|`` at 3.725:
    the exp argument is clamped at -88.38 instead, so large arguments give exactly +-1.
    """
    x = np.asarray(x, _F)
    a = np.abs(x)
    with np.errstate(invalid="ignore", over="ignore"):
        small = fma(_horner(_ERF_SMALL, a * a), a, a)
        big = fma(_horner(_ERF_BIG, a), a, a)
        t = np.maximum(_EXP_LOWER, -big)
        k = fma(_EXP_LOG2_RECIP, t, _EXP_ROUND) - _EXP_ROUND
        g = fma(k, _EXP_LOG2_LO, fma(k, _EXP_LOG2_HI, t))
        e = _horner(_EXP_POLY, g)
        ki = np.nan_to_num(k).astype(np.int32)
        scale = ((ki + 127) << 23).astype(np.int32).view(_F)
        big = _F(1) - e * scale
    y = np.where(a > _ERF_SPLIT, big, small)
    return np.where(np.signbit(x), -y, y).astype(_F)


# MlasTanhConstants (tanh.cpp, Eigen's coefficients): the clamp, the odd numerator's alphas
# (highest first) and the even denominator's betas.
_TANH_BOUND = _F(9.0)
_TANH_ALPHA = tuple(_F(v) for v in (-2.76076847742355e-16, 2.00018790482477e-13,
                                     -8.60467152213735e-11, 5.12229709037114e-08,
                                     1.48572235717979e-05, 6.37261928875436e-04,
                                     4.89352455891786e-03))
_TANH_BETA = tuple(_F(v) for v in (1.19825839466702e-06, 1.18534705686654e-04,
                                    2.26843463243900e-03, 4.89352518554385e-03))


def tanh(x: np.ndarray) -> np.ndarray:
    """MLAS's float32 tanh, elementwise: ``x`` clamped to [-9, 9], then ``(p(x**2) * x) / q(x**2)``
    with both polynomials by fma (the x86-64 kernel's order, confirmed on onnxruntime 1.32 over
    every kind of float32 input; its vector body and masked tail agree)."""
    x = np.minimum(_TANH_BOUND, np.maximum(-_TANH_BOUND, np.asarray(x, _F)))
    with np.errstate(invalid="ignore"):
        s = x * x
        p = fma(s, _TANH_ALPHA[0], _TANH_ALPHA[1])
        for c in _TANH_ALPHA[2:]:
            p = fma(p, s, c)
        q = fma(s, _TANH_BETA[0], _TANH_BETA[1])
        for c in _TANH_BETA[2:]:
            q = fma(q, s, c)
        return (p * x) / q


# Gelu's float32 constants (onnxruntime's gelu.cc): 1/sqrt(2) for the erf form; sqrt(2/pi) and
# 0.044715 * sqrt(2/pi) for the tanh form.
_GELU_SQRT1_2 = _F(0.7071067811865476)
_GELU_B = _F(0.7978845608028654)
_GELU_C = _F(0.035677408136300125)


def gelu(x: np.ndarray, approximate: str = "none",
         float_kernels: FloatKernels = "mlas_avx512f") -> np.ndarray:
    """onnxruntime's float32 Gelu (ONNX opset 20, and com.microsoft Gelu for ``"none"``).

    Plain float32 loops (the provider code is built without fma) around MLAS's erf or tanh:
    ``0.5 * x * (erf(x * (1/sqrt 2)) + 1)``, or ``0.5 * x * (tanh(x * (C*x*x + B)) + 1)``,
    each product evaluated left to right. ``x = -inf`` gives NaN (``-inf * 0``) as there.
    The same for both kernel families (see the module docstring).

    Raises:
        ValueError: for an ``approximate`` other than ``"none"`` or ``"tanh"``, or an unknown
            ``float_kernels``.
    """
    check_family(float_kernels)
    x = np.asarray(x, _F)
    with np.errstate(invalid="ignore", over="ignore"):
        if approximate == "none":
            inner = erf(x * _GELU_SQRT1_2)
        elif approximate == "tanh":
            inner = tanh(x * (_GELU_C * x * x + _GELU_B))
        else:
            raise ValueError(f"Gelu approximate={approximate!r}; valid: 'none', 'tanh'")
        return (_F(0.5) * x) * (inner + _F(1))


def _layer_norm_mlas(x: np.ndarray, scale: np.ndarray, bias: np.ndarray | None, eps: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Pass 1: the sum in float64, four lanes fed four floats at a time, lanes reduced as
    # (l0 + l2) + (l1 + l3), then the remaining (< 4) elements in order.
    rows, n = x.shape
    x64 = x.astype(_D)
    body = n // 4 * 4
    lanes = x64[:, :body].reshape(rows, -1, 4)
    acc = np.zeros((rows, 4), _D)
    for k in range(lanes.shape[1]):
        acc += lanes[:, k]
    total = (acc[:, 0] + acc[:, 2]) + (acc[:, 1] + acc[:, 3])
    for k in range(body, n):
        total = total + x64[:, k]
    mean = (total / n).astype(_F)
    # Pass 2: squared deviations by fma into eight float32 lanes, reduced as a tree
    # ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)). The compiled scalar tail then handles four
    # remaining elements as one 4-wide multiply whose products are added one by one (no fma),
    # and the last (< 4) by fma.
    dev = x - mean[:, None]
    body = n // 8 * 8
    sq = np.zeros((rows, 8), _F)
    for k in range(0, body, 8):
        v = dev[:, k:k + 8]
        sq = fma(v, v, sq)
    h = sq[:, :4] + sq[:, 4:]
    h = h[:, :2] + h[:, 2:]
    ssq = h[:, 0] + h[:, 1]
    if n - body >= 4:
        for k in range(body, body + 4):
            ssq = ssq + dev[:, k] * dev[:, k]
        body += 4
    for k in range(body, n):
        ssq = fma(dev[:, k], dev[:, k], ssq)
    denom = np.sqrt(ssq / _F(n) + _F(eps))
    inv = _F(1) / denom
    z = dev * inv[:, None]
    y = z * scale[None, :] if bias is None else fma(z, scale[None, :], bias[None, :])
    return y, mean, inv


def _layer_norm_welford(x: np.ndarray, scale: np.ndarray, bias: np.ndarray | None, eps: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Rows shorter than the MLAS kernel's 8 elements: Welford's update in float32, no fma.
    rows, n = x.shape
    mean = np.zeros(rows, _F)
    m2 = np.zeros(rows, _F)
    for k in range(n):
        delta = x[:, k] - mean
        mean = mean + delta / _F(k + 1)
        m2 = m2 + delta * (x[:, k] - mean)
    denom = np.sqrt(m2 / _F(n) + _F(eps))
    y = (x - mean[:, None]) / denom[:, None] * scale[None, :]
    if bias is not None:
        y = y + bias[None, :]
    return y, mean, _F(1) / denom


MLAS_LAYER_NORM_MIN = 8
"""Rows at least this long go to the MLAS LayerNorm kernel; shorter ones to the scalar loop."""


def layer_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray | None, eps: float,
               float_kernels: FloatKernels = "mlas_avx512f"
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """onnxruntime's float32 LayerNormalization of each row of ``x`` (``[rows, n]``).

    Args:
        x: float32 rows, each normalised on its own.
        scale: float32 ``[n]``.
        bias: float32 ``[n]`` or None.
        eps: epsilon (as float32).
        float_kernels: the MLAS family (the same bits for both; see the module docstring).

    Returns:
        ``(y, mean, inv_std)``: y ``[rows, n]``, mean and ``1 / sqrt(var + eps)`` ``[rows]``.

    Raises:
        ValueError: for an unknown ``float_kernels``.
    """
    check_family(float_kernels)
    x = np.asarray(x, _F)
    if x.shape[1] >= MLAS_LAYER_NORM_MIN:
        return _layer_norm_mlas(x, scale, bias, eps)
    return _layer_norm_welford(x, scale, bias, eps)


def matmul(a: np.ndarray, b: np.ndarray, *, b_const: bool = False,
           float_kernels: FloatKernels = "mlas_avx512f") -> np.ndarray:
    """onnxruntime's float32 MatMul (numpy broadcasting, 1-D operands promoted and squeezed).

    A 2-D ``b`` takes all of ``a``'s leading dims as rows of one GEMM, as onnxruntime does, and
    is prepacked (K slices of 256) when it is an initializer of the model (``b_const``); a
    weight behind a DequantizeLinear is not (onnxruntime keeps the DequantizeLinear node).
    ``MlasGemmFloatKernelFma3`` and ``...Avx512F`` sum in the same order (module docstring).

    Raises:
        ValueError: for an unknown ``float_kernels``.
    """
    check_family(float_kernels)
    a = np.asarray(a, _F)
    b = np.asarray(b, _F)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if b2.ndim == 2:
        y = sgemm(a2.reshape(-1, a2.shape[-1]), b2, packed_b=b_const and b.ndim == 2)
        y = y.reshape(a2.shape[:-1] + (b2.shape[-1],))
    else:
        y = sgemm(a2, b2)
    if a.ndim == 1:
        y = y.reshape(y.shape[:-2] + y.shape[-1:])
    if b.ndim == 1:
        y = y.reshape(y.shape[:-1])
    return y
