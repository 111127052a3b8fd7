"""KernelContext.cached: memoised only over constant inputs."""

from __future__ import annotations

from socsim.kernels.registry import KernelContext


def test_cached_memoises_over_constant_inputs_only() -> None:
    calls: list[int] = []

    def make() -> int:
        calls.append(1)
        return len(calls)

    ctx = KernelContext("n", "Op", {}, const=(False, True, True))
    assert [ctx.cached("k", make, 1, 2) for _ in range(3)] == [1, 1, 1]
    assert [ctx.cached("other", make, 0, 1) for _ in range(2)] == [2, 3]  # input 0 varies
    assert ctx.cached("missing", make, 5) == 4  # an input the node does not have
    assert "other" not in ctx.cache and "missing" not in ctx.cache
    assert ctx.cached("none", lambda: None, 1) is None and "none" in ctx.cache
