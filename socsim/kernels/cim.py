"""Compute-in-memory integer dot products: bit-sliced operands on crossbars, partial sums
quantized by the column ADCs, shift-added digitally.

The model (docs/devices.md, "Compute-in-memory unit"), all in exact int64 arithmetic:

* **Offset binary.** An activation ``a`` of an integer type with range ``[a_lo, a_hi]`` enters
  the crossbar as ``a_u = a - a_lo`` (unsigned, ``in_bits`` bits); a weight as ``w_u = w - w_lo``
  (``w_bits`` bits). The exact product ``sum_k (a_k - za)(w_k - zw)`` is
  ``P - zw_u * sum(a_u) - za_u * sum(w_u) + K * za_u * zw_u`` with ``P = sum_k a_u,k w_u,k``,
  ``za_u = za - a_lo``, ``zw_u = zw - w_lo``. Only ``P`` is computed in the analog array; the row
  sum of the inputs and the column sums of the (constant) weights are digital and exact.
* **Bit-serial inputs.** ``a_u = sum_i 2^(dac_bits * i) x_i`` with ``x_i`` in
  ``[0, 2^dac_bits - 1]``: ``I = ceil(in_bits / dac_bits)`` input cycles.
* **Bit-sliced weights.** ``w_u = sum_j 2^(bits_per_cell * j) c_j`` with ``c_j`` in
  ``[0, 2^bits_per_cell - 1]`` held in ``J = ceil(w_bits / bits_per_cell)`` cells (columns).
* **Row tiles.** The ``K`` rows are split into tiles of at most ``rows`` rows, one crossbar
  each; tile ``t`` uses ``rows_t`` rows.
* **The ADC.** Per tile, input slice and weight slice, a column's partial sum
  ``psum = sum_{k in t} x_i,k c_j,k`` lies in ``[0, FS_t]`` with the column's full scale
  ``FS_t = rows_t * (2^dac_bits - 1) * (2^bits_per_cell - 1)``. With ``L = 2^adc_bits - 1``::

      code     = clip(round_half_even(psum * L / FS_t), 0, L)
      psum_hat = round_half_even(code * FS_t / L)

  (a uniform quantizer over the column's full scale, and its dequantization to the nearest
  integer partial sum), and ``P_hat = sum_{t,i,j} 2^(dac_bits*i + bits_per_cell*j) psum_hat``.
  When ``L >= FS_t`` for every tile the step ``FS_t / L`` is at most 1, so ``psum_hat = psum``
  and ``P_hat = P``: the result is the exact integer product (:func:`exact_adc_bits`).

Kernels stay pure (STYLE.md rule 1): arrays and a frozen :class:`CimDot` in, arrays out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from socsim.kernels._gemm import im2col, pad_spatial
from socsim.kernels.dtypes import as_int, elem_type_of, int_range

__all__ = ["AdcStats", "CimDot", "adc_dequantize", "adc_quantize",
           "cim_conv", "cim_matmul", "crossbar_product", "exact_adc_bits", "full_scale",
           "operand_bits", "round_half_even_div"]

_CHUNK_ELEMENTS = 1 << 22
"""Partial sums held at once (int64): input rows are processed in chunks below this."""


@dataclass(frozen=True)
class CimDot:
    """The crossbar geometry and converters that shape a CiM unit's integer dot product.

    Attributes:
        rows: crossbar rows (word lines): products added in one analog partial sum.
        dac_bits: input bits applied per input cycle (bit-serial inputs).
        bits_per_cell: weight bits one cell (column slice) holds (bit slicing).
        adc_bits: resolution of the column ADC.
    """

    rows: int
    dac_bits: int
    bits_per_cell: int
    adc_bits: int

    def __post_init__(self) -> None:
        for name, lo, hi in (("rows", 1, 1 << 20), ("dac_bits", 1, 16),
                             ("bits_per_cell", 1, 16), ("adc_bits", 1, 32)):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")

    # The IntegerDot hook of socsim.kernels.arithmetic.Arithmetic:

    def matmul(self, a: np.ndarray, a_zero_point, b: np.ndarray, b_zero_point) -> np.ndarray:
        """``(..., K) @ (K, N)``, or batched ``(..., K, N)`` weights, as :func:`cim_matmul`."""
        if b.ndim == 2:
            return cim_matmul(a, a_zero_point, b, b_zero_point, self)[0]
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a_b = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
        b_b = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
        zp = None if b_zero_point is None else np.asarray(b_zero_point)
        zp_b = (None if zp is None or zp.ndim < 2
                else np.broadcast_to(zp, batch + zp.shape[-2:]).reshape(-1, zp.shape[-1]))
        out = [cim_matmul(x, a_zero_point, w, zp if zp_b is None else zp_b[i], self)[0]
               for i, (x, w) in enumerate(zip(a_b, b_b))]
        return np.stack(out).reshape(batch + (a.shape[-2], b.shape[-1]))

    def conv(self, x: np.ndarray, x_zero_point, w: np.ndarray, w_zero_point, group: int,
             strides: Sequence[int], dilations: Sequence[int], pads: Sequence[int]
             ) -> np.ndarray:
        """A convolution as :func:`cim_conv`."""
        return cim_conv(x, x_zero_point, w, w_zero_point, group, strides, dilations, pads,
                        self)[0]


@dataclass(frozen=True)
class AdcStats:
    """What the ADCs did during one product.

    Attributes:
        conversions: partial sums converted (tiles x input slices x weight slices x outputs).
        inexact: conversions whose dequantized value differs from the analog partial sum.
    """

    conversions: int
    inexact: int


def round_half_even_div(n: np.ndarray, d: np.ndarray | int) -> np.ndarray:
    """``round_half_even(n / d)`` for integer ``n >= 0`` and ``d >= 1``, exactly, in int64."""
    n = np.asarray(n, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    q, r = np.divmod(n, d)
    twice = 2 * r
    return q + ((twice > d) | ((twice == d) & (q % 2 == 1)))


def full_scale(rows_used: np.ndarray | int, spec: CimDot) -> np.ndarray:
    """The largest partial sum a column of ``rows_used`` rows can reach:
    ``rows_used * (2^dac_bits - 1) * (2^bits_per_cell - 1)``."""
    return (np.asarray(rows_used, dtype=np.int64) * ((1 << spec.dac_bits) - 1)
            * ((1 << spec.bits_per_cell) - 1))


def adc_quantize(psum: np.ndarray, fs: np.ndarray | int, adc_bits: int) -> np.ndarray:
    """ADC codes ``clip(round_half_even(psum * L / fs), 0, L)``, ``L = 2^adc_bits - 1``."""
    levels = (1 << adc_bits) - 1
    return np.clip(round_half_even_div(psum * levels, fs), 0, levels)


def adc_dequantize(code: np.ndarray, fs: np.ndarray | int, adc_bits: int) -> np.ndarray:
    """Partial sums the codes stand for: ``round_half_even(code * fs / L)``."""
    return round_half_even_div(code * np.asarray(fs, dtype=np.int64), (1 << adc_bits) - 1)


def exact_adc_bits(spec: CimDot, k: int | None = None) -> int:
    """The fewest ADC bits that make every partial sum exact: ``ceil(log2(FS + 1))`` for the
    full scale of a full crossbar (of ``min(rows, k)`` rows when ``k`` is given)."""
    used = spec.rows if k is None else min(spec.rows, k)
    return int(full_scale(used, spec)).bit_length()


def operand_bits(array: np.ndarray) -> tuple[int, int]:
    """``(bits, lo)`` of an integer array's type: its unsigned offset ``x - lo`` fits ``bits``."""
    r = int_range(elem_type_of(array))
    return int(r.hi - r.lo).bit_length(), int(r.lo)


def _slices(values: np.ndarray, bits: int, width: int) -> np.ndarray:
    """``(ceil(bits / width), *values.shape)`` slices of ``width`` bits, least significant
    first."""
    n = -(-bits // width)
    shifts = (width * np.arange(n, dtype=np.int64)).reshape((n,) + (1,) * values.ndim)
    return (values[None] >> shifts) & ((1 << width) - 1)


_TABLE_MAX = 1 << 22
"""Largest full scale whose ADC round trip is tabulated (one int64 per partial sum)."""


def _adc_round_trip(psum: np.ndarray, rows_used: np.ndarray, spec: CimDot) -> np.ndarray:
    """``adc_dequantize(adc_quantize(psum))`` per tile (axis 2 of ``psum``); through a table
    of every partial sum ``0..FS`` when the full scale is small (the same values, computed
    once per distinct full scale)."""
    out = np.empty_like(psum)
    for fs_value in np.unique(full_scale(rows_used, spec)):
        tiles = np.flatnonzero(full_scale(rows_used, spec) == fs_value)
        part = psum[:, :, tiles]
        if fs_value <= _TABLE_MAX:
            table = adc_dequantize(adc_quantize(np.arange(fs_value + 1), fs_value, spec.adc_bits),
                                   fs_value, spec.adc_bits)
            out[:, :, tiles] = table[part]
        else:
            out[:, :, tiles] = adc_dequantize(adc_quantize(part, fs_value, spec.adc_bits),
                                              fs_value, spec.adc_bits)
    return out


def crossbar_product(a_u: np.ndarray, w_u: np.ndarray, in_bits: int, w_bits: int,
                     spec: CimDot) -> tuple[np.ndarray, AdcStats]:
    """``P_hat``, the ADC-quantized ``a_u @ w_u`` of unsigned operands (module docstring).

    Args:
        a_u: ``(P, K)`` unsigned inputs below ``2^in_bits``.
        w_u: ``(K, N)`` unsigned weights below ``2^w_bits``.
        in_bits: input width (sets the input cycles).
        w_bits: weight width (sets the cells per weight).
        spec: the crossbar and converters.

    Returns:
        ``(P, N)`` int64 sums and the ADC statistics.
    """
    a_u = np.asarray(a_u, dtype=np.int64)
    w_u = np.asarray(w_u, dtype=np.int64)
    p, k = a_u.shape
    n = w_u.shape[1]
    tiles = max(1, -(-k // spec.rows))
    pad = tiles * spec.rows - k
    rows_used = np.full(tiles, spec.rows, dtype=np.int64)
    rows_used[-1] = k - (tiles - 1) * spec.rows
    x = _slices(np.pad(a_u, ((0, 0), (0, pad))), in_bits, spec.dac_bits)     # (I, P, T*R)
    c = _slices(np.pad(w_u, ((0, pad), (0, 0))), w_bits, spec.bits_per_cell)  # (J, T*R, N)
    n_in, n_w = x.shape[0], c.shape[0]
    x = x.reshape(n_in, p, tiles, spec.rows).transpose(0, 2, 1, 3)[:, None].astype(np.float64)
    c = c.reshape(n_w, tiles, spec.rows, n).astype(np.float64)[None]
    shift = (spec.dac_bits * np.arange(n_in, dtype=np.int64)[:, None]
             + spec.bits_per_cell * np.arange(n_w, dtype=np.int64)[None, :])
    weight = (np.int64(1) << shift).reshape(n_in, n_w, 1, 1, 1)
    out = np.empty((p, n), dtype=np.int64)
    inexact = 0
    step = max(1, _CHUNK_ELEMENTS // max(1, n_in * n_w * tiles * n))
    for s in range(0, p, step):
        # Partial sums are integers below rows * 2^(dac + cell bits), exact in float64 BLAS.
        psum = np.matmul(x[:, :, :, s:s + step], c).astype(np.int64)  # (I, J, T, p, N)
        hat = _adc_round_trip(psum, rows_used, spec)
        inexact += int(np.count_nonzero(hat != psum))
        out[s:s + step] = (hat * weight).sum(axis=(0, 1, 2))
    return out, AdcStats(n_in * n_w * tiles * p * n, inexact)


def cim_matmul(a: np.ndarray, a_zero_point: np.ndarray | int | None, w: np.ndarray,
               w_zero_point: np.ndarray | int | None, spec: CimDot
               ) -> tuple[np.ndarray, AdcStats]:
    """``sum_k (a - za)(w - zw)`` as a CiM unit computes it.

    Args:
        a: ``(..., K)`` integer activations (any integer type, e.g. int8 or uint8).
        a_zero_point: a scalar (or None: 0).
        w: ``(K, N)`` integer weights.
        w_zero_point: a scalar, one per column ``(N,)``, or None.
        spec: the crossbar and converters.

    Returns:
        ``(..., N)`` int64 sums (exact when :func:`exact_adc_bits` <= ``spec.adc_bits``) and
        the ADC statistics.
    """
    in_bits, a_lo = operand_bits(a)
    w_bits, w_lo = operand_bits(w)
    lead = a.shape[:-1]
    k = a.shape[-1]
    a_u = as_int(a, np.int64).reshape(-1, k) - a_lo
    w_u = as_int(w, np.int64) - w_lo
    za_u = (0 if a_zero_point is None else int(np.asarray(as_int(np.asarray(a_zero_point),
                                                                  np.int64)).reshape(-1)[0])) - a_lo
    zw_u = (np.zeros(1, np.int64) if w_zero_point is None
            else as_int(np.asarray(w_zero_point), np.int64).reshape(-1)) - w_lo
    p_hat, stats = crossbar_product(a_u, w_u, in_bits, w_bits, spec)
    acc = (p_hat - zw_u[None, :] * a_u.sum(axis=1, keepdims=True)
           - za_u * w_u.sum(axis=0)[None, :] + k * za_u * zw_u[None, :])
    return acc.reshape(lead + (w.shape[1],)), stats


def cim_conv(x: np.ndarray, x_zero_point: np.ndarray | int | None, w: np.ndarray,
             w_zero_point: np.ndarray | int | None, group: int, strides: Sequence[int],
             dilations: Sequence[int], pads: Sequence[int], spec: CimDot
             ) -> tuple[np.ndarray, AdcStats]:
    """``sum (x - x_zp) * (w - w_zp)`` of a convolution as a CiM unit computes it.

    Each group is one matrix product: its weights ``(C/group * prod(kernel), M/group)`` on the
    crossbars (rows in ONNX order: channel, then kernel taps), the input windows streamed as
    rows. Padding carries the input zero point (real zero), as the array would be driven.

    Args:
        x: ``(N, C, *spatial)`` integer activations.
        x_zero_point: a scalar (or None).
        w: ``(M, C/group, *kernel)`` integer weights.
        w_zero_point: a scalar, one per output channel, or None.
        group: the convolution's groups.
        strides: spatial strides.
        dilations: spatial dilations.
        pads: explicit ONNX pads ``[b1, ..., e1, ...]``.
        spec: the crossbar and converters.

    Returns:
        ``(N, M, *out)`` int64 sums and the ADC statistics.
    """
    kernel = list(w.shape[2:])
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    zx = 0 if x_zero_point is None else int(np.asarray(as_int(np.asarray(x_zero_point),
                                                              np.int64)).reshape(-1)[0])
    xp = pad_spatial(np.ascontiguousarray(x), pads, value=zx)
    zw = (None if w_zero_point is None
          else np.broadcast_to(as_int(np.asarray(w_zero_point), np.int64).reshape(-1), (m,)))
    parts = []
    conversions = inexact = 0
    out_sp: list[int] = []
    for g in range(group):
        cols, out_sp = im2col(xp[:, g * cg:(g + 1) * cg], kernel, strides, dilations)
        rows = np.ascontiguousarray(cols.transpose(0, 2, 1)).reshape(-1, cols.shape[1])
        wg = w[g * mg:(g + 1) * mg].reshape(mg, -1).T
        zg = None if zw is None else zw[g * mg:(g + 1) * mg]
        acc, stats = cim_matmul(rows.astype(x.dtype, copy=False), zx, wg, zg, spec)
        conversions += stats.conversions
        inexact += stats.inexact
        parts.append(acc.reshape(n, math.prod(out_sp), mg).transpose(0, 2, 1))
    y = np.concatenate(parts, axis=1).reshape([n, m] + list(out_sp))
    return y, AdcStats(conversions, inexact)
