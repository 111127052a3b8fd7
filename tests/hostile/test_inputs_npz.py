"""Hostile .npz files through every command that reads one: a scenario's ``inputs`` (validate
and run), ``socsim quantize --calib`` and ``--eval``, and a scenario's ``quantize.calib``.
All of them read through :mod:`socsim.npz`, so each case gets the same message (file, array,
fix), exit status 1, no traceback, within a bound, nothing written.

The hostile files are built here byte by byte with :mod:`zipfile` and numpy's own ``.npy``
header writer, independently of the reader under test.
"""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from socsim.npz import InputSpec, NpzError, check_arrays, read_npz
from tests.hostile._input_cases import errors, float_scenario, model


def _good(path, key="input", sample=(1, 8, 8)) -> None:
    """A valid .npz: 4 samples under ``key`` and 4 labels."""
    np.savez(path, **{key: np.zeros((4, *sample), np.float32)},
             labels=np.arange(4, dtype=np.int64))


def _truncated(path, key="input", sample=(1, 8, 8)) -> None:
    _good(path, key, sample)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the central directory at the end is gone


def _bad_crc(path, key="input", sample=(1, 8, 8)) -> None:
    """Directory intact, one data byte of the first array flipped: zipfile raises BadZipFile
    (CRC) while reading the member."""
    _good(path, key, sample)
    data = bytearray(path.read_bytes())
    at = data.index(b"\x93NUMPY") + 150  # past the 128-byte .npy header, inside the data
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _pickled(path, key="input", sample=(1, 8, 8)) -> None:
    np.savez(path, **{key: np.array([{"a": 1}, None], dtype=object)})


def _wrong_key(path, key="input", sample=(1, 8, 8)) -> None:
    np.savez(path, image=np.zeros((4, *sample), np.float32))


def _npy_bytes(header: dict, data: bytes) -> bytes:
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


def _huge_declared_shape(path, key="input", sample=(1, 8, 8)) -> None:
    """A 200-byte member whose .npy header declares 2^40 samples (terabytes): numpy's own
    reader would allocate the whole array before finding the data short."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{key}.npy", _npy_bytes(
            {"descr": "<f4", "fortran_order": False, "shape": (1 << 40, *sample)}, bytes(200)))


def _huge_directory_size(path, key="input", sample=(1, 8, 8)) -> None:
    """The zip directory declares a 4 GB uncompressed member (a zip bomb's signature)."""
    _good(path, key, sample)
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02")  # first central directory header
    data[at + 24: at + 28] = struct.pack("<I", 0xFFFFFFF0)  # its uncompressed size field
    path.write_bytes(bytes(data))


CASES = [
    (_truncated, "is not an .npz archive; save it with numpy.savez(path, **{name: array}) for "
                 "inputs ['input']"),
    (_bad_crc, "cannot be read as an .npz of plain arrays (array 'input': BadZipFile: Bad CRC"),
    (_pickled, "cannot be read as an .npz of plain arrays (array 'input' holds pickled Python "
               "objects, which socsim never loads)"),
    (_wrong_key, "lacks arrays for model inputs ['input']; it has ['image']; save it with "
                 "numpy.savez(path, **{name: array}) for inputs ['input']"),
    (_huge_declared_shape, "array 'input' declares shape (1099511627776, 1, 8, 8) of float32: "
                           "the arrays would take more than the 1,073,741,824-byte limit"),
    (_huge_directory_size, "expands to 4,294,9"),
]
IDS = ["truncated", "bad-crc", "pickled-object", "wrong-key", "huge-declared-shape",
       "huge-directory-size"]


@pytest.mark.parametrize("writer, expected", CASES, ids=IDS)
@pytest.mark.parametrize("flag", ["--calib", "--eval"])
def test_quantize_refuses_hostile_npz(cli, sandbox, writer, expected, flag):
    bad = sandbox / "bad.npz"
    writer(bad)
    good = sandbox / "good.npz"
    _good(good)
    files = {"--calib": bad, "--eval": good} if flag == "--calib" else {"--calib": good,
                                                                          "--eval": bad}
    what = "calibration data (--calib)" if flag == "--calib" else "evaluation data (--eval)"
    result = cli("quantize", "workloads/digits_cnn.onnx", "--out", "out/q.onnx",
                 "--calib", str(files["--calib"]), "--eval", str(files["--eval"]), writes="out")
    assert result.code == 1, result.text
    (msg,) = errors(result)
    assert msg.startswith(f"{bad}: the {what}"), msg
    assert expected in msg, msg
    assert not (sandbox / "out").exists()


@pytest.mark.parametrize("writer, expected", CASES, ids=IDS)
def test_scenario_quantize_calib_refuses_hostile_npz(cli, sandbox, writer, expected):
    writer(sandbox / "workloads" / "bad.npz")
    path = sandbox / "scenarios" / "q.yaml"
    path.write_text("name: q\nsoc: ../devices/imx8mp.yaml\nworkloads:\n  - name: digits\n"
                    "    model: ../workloads/digits_cnn.onnx\n    quantize:\n"
                    "      calib: ../workloads/bad.npz\n    shapes: {N: 1}\n    inferences: 1\n"
                    "policy: {name: greedy_eft}\n")
    rel = str(path.relative_to(sandbox))
    for command in ("validate", "run"):
        result = cli(command, rel, *(("--out", "out") if command == "run" else ()),
                     writes="out")
        assert result.code == 1, result.text
        (msg,) = errors(result)
        assert " workloads.0.quantize: " in msg, msg
        assert f"{sandbox / 'workloads' / 'bad.npz'}: the calibration file" in msg, msg
        assert expected in msg, msg


@pytest.mark.parametrize("writer, expected", [
    (_truncated, "is not an .npz archive"),
    (_bad_crc, "BadZipFile: Bad CRC"),
    (_pickled, "holds pickled Python objects"),
    (_wrong_key, "lacks arrays for model inputs ['x']; it has ['image']"),
    (_huge_declared_shape, "declares shape (1099511627776, 1, 4)"),
    (_huge_directory_size, "more than the 1,073,741,824-byte limit"),
], ids=IDS)
def test_scenario_inputs_refuse_hostile_npz(cli, sandbox, writer, expected):
    writer(sandbox / "workloads" / "in.npz", "x", (1, 4))
    path = float_scenario(sandbox, model([1, 4]).SerializeToString(),
                          extra="    inputs: ../workloads/in.npz\n")
    rel = str(path.relative_to(sandbox))
    for command in ("validate", "run"):
        result = cli(command, rel, *(("--out", "out") if command == "run" else ()),
                     writes="out")
        assert result.code == 1, result.text
        (msg,) = errors(result)
        assert " workloads.0.inputs: " in msg and "the inputs file" in msg, msg
        assert expected in msg, msg


def test_declared_size_is_bounded_before_allocation(tmp_path):
    """The 4 TiB header is refused having allocated far less than one copy of the limit."""
    path = tmp_path / "h.npz"
    _huge_declared_shape(path)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(NpzError):
        read_npz(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10_000_000 and time.perf_counter() - t0 < 5


def test_compression_bomb_stops_at_the_bound(tmp_path):
    """64 MiB of zeros compress to ~64 KiB; with a 16 MiB bound the archive is refused by its
    directory, before decompression."""
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros(1 << 24, np.float32))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(NpzError, match="expands to 67,108,9"):
        read_npz(path, max_bytes=1 << 24)
    assert read_npz(path, max_bytes=1 << 27)["x"].nbytes == 1 << 26


def test_labels_and_sample_counts_are_checked():
    inputs = {"x": InputSpec((None, 3), "float32")}
    x = np.zeros((5, 3), np.float32)
    ok = check_arrays({"x": x, "labels": np.arange(5)}, inputs, path="e.npz", layout="batch",
                      labels=True)
    assert ok == []
    (msg,) = check_arrays({"x": x}, inputs, path="e.npz", layout="batch", labels=True)
    assert msg.startswith("e.npz: the data file has no 'labels' array")
    (msg,) = check_arrays({"x": x, "labels": np.arange(4)}, inputs, path="e.npz",
                          layout="batch", labels=True)
    assert "different numbers of samples {'x': 5, 'labels': 4}" in msg
    (msg,) = check_arrays({"x": x, "labels": np.full(5, -1)}, inputs, path="e.npz",
                          layout="batch", labels=True)
    assert "non-negative integer classes" in msg
