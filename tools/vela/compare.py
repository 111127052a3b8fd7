"""Compare socsim's NPU models with the committed Vela per-layer estimates (socsim's env).

    python tools/vela/compare.py [--config u55_128_high_end] [--layers]
"""
