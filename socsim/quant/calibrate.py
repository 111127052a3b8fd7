"""Calibration: the real range each activation tensor is quantized over.

Methods (``minmax``, ``percentile``, ``entropy``, ``mse``):

* ``minmax``: the observed minimum and maximum.
* the three clipping methods choose a threshold ``T`` on ``|x|`` from a histogram of ``|x|``
  (``bins`` equal bins over ``[0, max |x|]``) and clip the observed range to ``[-T, T]``:
  ``percentile`` takes the ``p``-th percentile of ``|x|``; ``entropy`` is TensorRT's KL
  divergence search (Migacz, "8-bit Inference with TensorRT", GTC 2017): the reference
  distribution is the histogram cut at ``i`` bins with the tail folded into the last bin, the
  candidate is that histogram merged into ``2**(bits-1)`` levels and expanded back over its
  non-empty bins, and ``T`` minimises KL(reference || candidate); ``mse`` minimises the expected
  squared error of the symmetric ``bits``-bit quantizer with step ``T / (2**(bits-1) - 1)``,
  evaluated on the histogram (rounding error of each bin centre plus the clipping error of the
  tail).

Model statistics are gathered in two passes over the calibration data with onnxruntime running
the float model with every intermediate tensor exposed: first min/max (which fixes the histogram
ranges), then histograms and per-channel means (used by bias correction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx

__all__ = ["METHODS", "TensorStats", "collect_stats", "entropy_threshold", "mse_threshold",
           "percentile_threshold", "tensor_range"]

METHODS = ("minmax", "percentile", "entropy", "mse")
"""Calibration method names."""

DEFAULT_BINS = 2048


def _centres(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


def percentile_threshold(hist: np.ndarray, edges: np.ndarray, percentile: float) -> float:
    """The upper edge of the first bin where the cumulative share of ``|x|`` reaches ``p``%.

    Args:
        hist: counts of ``|x|`` per bin.
        edges: the ``len(hist) + 1`` bin edges, from 0.
        percentile: in (0, 100].

    Returns:
        The threshold T.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    cdf = np.cumsum(hist, dtype=np.float64)
    i = int(np.searchsorted(cdf, cdf[-1] * percentile / 100.0))
    return float(edges[min(i, len(hist) - 1) + 1])


def entropy_threshold(hist: np.ndarray, edges: np.ndarray, bits: int = 8) -> float:
    """The threshold minimising KL(reference || quantized), TensorRT's algorithm.

    Args:
        hist: counts of ``|x|`` per bin (at least ``2**(bits-1)`` bins).
        edges: bin edges, from 0.
        bits: bit-width of the signed quantizer (``2**(bits-1)`` levels on one side).

    Returns:
        The threshold T (an upper bin edge).
    """
    levels = 2 ** (bits - 1)
    hist = hist.astype(np.float64)
    n = len(hist)
    if n <= levels:
        return float(edges[-1])
    best, best_i = np.inf, n
    for i in range(levels, n + 1):
        ref = hist[:i].copy()
        ref[-1] += hist[i:].sum()
        nonzero = hist[:i] != 0
        # merge the i bins into `levels` groups, spread each group's mass over its non-empty bins
        group = (np.arange(i) * levels) // i
        mass = np.bincount(group, weights=hist[:i], minlength=levels)
        count = np.bincount(group, weights=nonzero.astype(np.float64), minlength=levels)
        cand = np.where(nonzero, mass[group] / np.maximum(count[group], 1), 0.0)
        p, q = ref / ref.sum(), cand / max(cand.sum(), 1e-300)
        m = p > 0
        if np.any(m & (q == 0)):
            continue
        kl = float(np.sum(p[m] * np.log(p[m] / q[m])))
        if kl < best:
            best, best_i = kl, i
    return float(edges[best_i])


def mse_threshold(hist: np.ndarray, edges: np.ndarray, bits: int = 8,
                  candidates: int = 400) -> float:
    """The threshold minimising the expected squared quantization error of ``|x|``.

    Args:
        hist: counts of ``|x|`` per bin.
        edges: bin edges, from 0.
        bits: bit-width of the signed symmetric quantizer.
        candidates: number of thresholds tried, evenly spaced up to the largest edge.

    Returns:
        The threshold T.
    """
    qmax = 2 ** (bits - 1) - 1
    x = _centres(edges)
    w = hist.astype(np.float64)
    best, best_t = np.inf, float(edges[-1])
    for t in np.linspace(edges[-1] / candidates, edges[-1], candidates):
        step = t / qmax
        xq = np.minimum(np.rint(x / step), qmax) * step
        err = float(np.sum(w * (x - xq) ** 2))
        if err < best:
            best, best_t = err, float(t)
    return best_t


@dataclass
class TensorStats:
    """What calibration saw of one tensor.

    Attributes:
        min: smallest value.
        max: largest value.
        hist: counts of ``|x|`` over ``edges`` (after the second pass).
        edges: histogram bin edges from 0 to ``max(|min|, |max|)``.
        channel_mean: mean per channel (axis 1) for tensors of rank >= 2.
        count: number of samples seen.
    """

    min: float = np.inf
    max: float = -np.inf
    hist: np.ndarray | None = None
    edges: np.ndarray | None = None
    channel_mean: np.ndarray | None = None
    count: int = 0
    _sum: np.ndarray | None = field(default=None, repr=False)

    def observe_range(self, x: np.ndarray) -> None:
        """First pass: widen min and max."""
        if x.size:
            self.min = min(self.min, float(x.min()))
            self.max = max(self.max, float(x.max()))

    def observe_hist(self, x: np.ndarray, bins: int) -> None:
        """Second pass: accumulate the ``|x|`` histogram and the per-channel sums."""
        if self.edges is None:
            top = max(abs(self.min), abs(self.max), 1e-12)
            self.edges = np.linspace(0.0, top, bins + 1)
            self.hist = np.zeros(bins, np.int64)
        self.hist += np.histogram(np.abs(x), self.edges)[0]
        if x.ndim >= 2:
            red = (0, *range(2, x.ndim))
            s = x.astype(np.float64).sum(axis=red)
            self._sum = s if self._sum is None else self._sum + s
            self.count += int(np.prod([x.shape[i] for i in red]))
            self.channel_mean = self._sum / self.count


def tensor_range(stats: TensorStats, method: str, *, bits: int = 8,
                 percentile: float = 99.99) -> tuple[float, float]:
    """The range ``(rmin, rmax)`` a calibration method chooses for one tensor.

    Raises:
        ValueError: for an unknown method.
    """
    if method == "minmax":
        return stats.min, stats.max
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; valid: {', '.join(METHODS)}")
    assert stats.hist is not None and stats.edges is not None
    if method == "percentile":
        t = percentile_threshold(stats.hist, stats.edges, percentile)
    elif method == "entropy":
        t = entropy_threshold(stats.hist, stats.edges, bits)
    else:
        t = mse_threshold(stats.hist, stats.edges, bits)
    return max(stats.min, -t), min(stats.max, t)


def _batches(data: Mapping[str, np.ndarray], batch: int) -> Iterator[dict[str, np.ndarray]]:
    n = len(next(iter(data.values())))
    for i in range(0, n, batch):
        yield {k: v[i:i + batch] for k, v in data.items()}


def _expose_all(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    names = [i.name for i in m.graph.input] + [o for n in m.graph.node for o in n.output if o]
    for name in names:
        if name not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
            have.add(name)
    return m, names


def batch_size_for(model: onnx.ModelProto) -> int:
    """64 when every graph input has a symbolic first dimension, else 1."""
    for i in model.graph.input:
        dims = i.type.tensor_type.shape.dim
        if not dims or not dims[0].dim_param:
            return 1
    return 64


def collect_stats(model: onnx.ModelProto, data: Mapping[str, np.ndarray], *, bins: int = DEFAULT_BINS,
                  progress: Callable[[int], None] | None = None) -> dict[str, TensorStats]:
    """Runs the float model over ``data`` twice and returns the statistics of every float tensor.

    Args:
        model: float model.
        data: arrays keyed by input name, samples along the first axis.
        bins: histogram bins.
        progress: called with the number of samples done after each batch (both passes).

    Returns:
        Statistics per tensor name (graph inputs and every node output that is float).
    """
    import onnxruntime as ort
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument

    from socsim.errors import ModelError

    exposed, names = _expose_all(model)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(exposed.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    stats = {n: TensorStats() for n in names}
    batch = batch_size_for(model)
    inputs = {i.name for i in model.graph.input}
    data = {k: (v.astype(np.float32) if v.dtype == np.float64 else v)
            for k, v in data.items() if k in inputs}
    for pass_ in (0, 1):
        for feeds in _batches(data, batch):
            try:
                outs = dict(zip(out_names, sess.run(out_names, feeds), strict=True))
            except (Fail, InvalidArgument) as exc:
                shapes = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in feeds.items())
                raise ModelError(f"the model cannot run on the calibration arrays ({shapes}): "
                                 f"{str(exc).splitlines()[0]}",
                                 hint="arrays must match the model inputs' shapes and types, "
                                      "samples along the first axis") from None
            outs.update(feeds)
            for name in names:
                x = outs.get(name)
                if x is None or x.dtype != np.float32:
                    continue
                if pass_ == 0:
                    stats[name].observe_range(x)
                else:
                    stats[name].observe_hist(x, bins)
            if progress:
                progress(len(next(iter(feeds.values()))))
    return {k: v for k, v in stats.items() if v.hist is not None}
