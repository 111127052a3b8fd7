"""Attribute limits of a unit's operators: kernel sizes, strides, dilations, groups.

Real accelerators run an op type only within limits their datapath and compiler impose (Arm's
Vela compiler, for instance, maps a convolution to the Ethos-U55 only with strides up to 3,
dilations up to 2 and a dilated kernel at most 64 high and 4096 in area). A unit without
``limits`` runs every op of its ``ops`` whatever its attributes. The checks live in
:mod:`socsim.policies.compat`.
"""

from __future__ import annotations

from pydantic import Field

from socsim.config._base import Spec

Pair = tuple[int, int]


class OpLimits(Spec):
    """Per-unit attribute limits (each None: unlimited). Pairs are ``[height, width]``."""

    stride_max: Pair | None = Field(None, description="Largest stride of a Conv or pooling "
                                    "op, [h, w].")
    dilation_max: Pair | None = Field(None, description="Largest dilation of a Conv, [h, w] "
                                      "([1, 1]: no dilated kernels).")
    kernel_max: Pair | None = Field(None, description="Largest dilated Conv kernel, [h, w] "
                                    "(dilated size: (k - 1) x dilation + 1).")
    kernel_area_max: int | None = Field(None, ge=1, description="Largest product of a Conv's "
                                        "dilated kernel height and width.")
    pool_kernel_max: Pair | None = Field(None, description="Largest pooling window, [h, w].")
    pool_kernel_area_max: int | None = Field(None, ge=1, description="Largest product of a "
                                             "pooling window's height and width.")
    padded_avgpool_kernel_max: Pair | None = Field(
        None, description="Largest AveragePool window when the op pads its input (TFLite's "
        "SAME padding), [h, w].")
    grouped_conv: bool = Field(True, description="Whether a grouped Conv (1 < group < input "
                               "channels: neither a plain nor a depthwise convolution) runs.")
