"""The zoo's public API: names, errors, inputs, determinism, ensure() and the generate script."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from _zoo_reference import SMALL

from socsim import zoo
from socsim.errors import ModelError

Built = Callable[[str], onnx.ModelProto]
REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO / "workloads"


def test_names_are_every_base_and_its_int8_twin() -> None:
    assert zoo.NAMES == (
        "mobilenetv2", "mobilenetv2_int8", "resnet8", "resnet8_int8",
        "ds_cnn", "ds_cnn_int8", "transformer_block", "transformer_block_int8",
    )  # fmt: skip
    assert set(zoo.__all__) >= {"NAMES", "build", "ensure", "input_spec", "example_inputs"}


@pytest.mark.parametrize("bad", ["resnet9", "resnet8_int4", "_int8", "", "RESNET8"])
def test_unknown_name_raises_model_error_listing_valid_names(bad: str) -> None:
    for call in (
        lambda: zoo.build(bad),
        lambda: zoo.input_spec(bad),
        lambda: zoo.example_inputs(bad),
    ):
        with pytest.raises(ModelError) as info:
            call()
        message = str(info.value)
        assert repr(bad) in message
        assert all(n in message for n in zoo.NAMES)


@pytest.mark.parametrize("name", zoo.NAMES)
def test_example_inputs_match_input_spec_and_are_seeded(name: str) -> None:
    spec = zoo.input_spec(name)
    a, b, c = (zoo.example_inputs(name, seed=s) for s in (0, 0, 1))
    assert spec.keys() == a.keys() == {"input"}
    (shape, dtype), x = spec["input"], a["input"]
    assert x.shape == shape and x.dtype == dtype == np.float32
    s = zoo.spec(name)
    assert s.input_low <= x.min() and x.max() < s.input_high
    assert np.array_equal(x, b["input"]) and not np.array_equal(x, c["input"])


def _digest(model: onnx.ModelProto) -> str:
    return hashlib.sha256(model.SerializeToString()).hexdigest()


@pytest.mark.parametrize("name", [n for n in zoo.NAMES if n != "mobilenetv2_int8"])
def test_building_twice_gives_identical_bytes(built: Built, name: str) -> None:
    # mobilenetv2_int8 is built once per session; the cross-process test covers the quantizer.
    assert _digest(zoo.build(name)) == _digest(built(name))


def test_seed_changes_weights_only(built: Built) -> None:
    a, b = built("ds_cnn"), zoo.build("ds_cnn", seed=1)
    assert _digest(a) != _digest(b)
    assert [n.SerializeToString() for n in a.graph.node] == [
        n.SerializeToString() for n in b.graph.node
    ]


def test_int8_build_is_identical_across_processes_and_hash_seeds(built: Built) -> None:
    # The quantizer iterates over sets of op types; make sure that never reaches the output.
    code = (
        "import hashlib, sys; from socsim import zoo; "
        "sys.stdout.write(hashlib.sha256(zoo.build('transformer_block_int8')"
        ".SerializeToString()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        ).stdout
        for seed in ("1", "2")
    }
    assert digests == {_digest(built("transformer_block_int8"))}


@pytest.mark.avx2_subset  # tools/qemu_avx2.sh: the same bytes on an AVX2/FMA3 host
@pytest.mark.parametrize("name", [n + s for n in SMALL for s in ("", "_int8")])
def test_committed_workloads_are_up_to_date(built: Built, name: str) -> None:
    path = WORKLOADS / f"{name}.onnx"
    assert path.stat().st_size < 1 << 20
    assert path.read_bytes() == built(name).SerializeToString(), (
        f"{path} is stale: run python workloads/generate.py {name}"
    )


def test_ensure_builds_a_missing_zoo_file_atomically(built: Built, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "resnet8_int8.onnx"
    assert zoo.ensure(path) is True
    assert path.read_bytes() == built("resnet8_int8").SerializeToString()
    assert sorted(p.name for p in path.parent.iterdir()) == ["resnet8_int8.onnx"]  # no tmp left
    assert path.stat().st_mode & 0o777 == 0o644


def test_ensure_leaves_existing_files_alone(tmp_path: Path) -> None:
    path = tmp_path / "ds_cnn.onnx"
    path.write_bytes(b"not a model")
    assert zoo.ensure(str(path)) is False
    assert path.read_bytes() == b"not a model"


@pytest.mark.parametrize("file", ["custom.onnx", "ds_cnn.onnx.bak", "ds_cnn.txt", "ds_cnn"])
def test_ensure_ignores_names_outside_the_zoo(tmp_path: Path, file: str) -> None:
    assert zoo.ensure(tmp_path / file) is False
    assert list(tmp_path.iterdir()) == []


def test_generate_script_writes_chosen_models(built: Built, tmp_path: Path) -> None:
    script = WORKLOADS / "generate.py"
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "ds_cnn", "ds_cnn_int8"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "ds_cnn_int8.onnx" in run.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds_cnn.onnx", "ds_cnn_int8.onnx"]
    assert (tmp_path / "ds_cnn.onnx").read_bytes() == built("ds_cnn").SerializeToString()
    bad = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "resnet9"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "resnet9" in bad.stderr and "mobilenetv2_int8" in bad.stderr
