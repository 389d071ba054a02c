"""Random bytes fed to ``hnsx explain`` and ``hnsx train`` as images, CSV files and checkpoint JSON: every one ends
in exit code 2 with one line on stderr, never a traceback. Seeded, a few seconds."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import shutil
import string
from pathlib import Path

import pytest
from test_errors_catalogue import train_image_run

from hnsx.cli import main

ROUNDS = 12
SEED = 22
#: Values of the wrong kind for a model spec entry.
WRONG = [None, [], {}, "\x00garbage", -7, 10**40, 1.5, [1, "a"], {"name": 3}]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_image_run(tmp_path_factory.mktemp("fuzz") / "run")


def _refused(argv: list[str], what: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    lines = err.getvalue().strip().splitlines()
    assert code == 2, f"{what}: exit {code}\n{err.getvalue()}"
    assert len(lines) == 1 and lines[0].startswith(f"hnsx {argv[0]}: error: "), f"{what}: {err.getvalue()}"


def _noise(rng: random.Random, kind: int) -> bytes:
    """Random bytes (0), random printable text with separators and quotes (1), or a valid start followed by noise
    (2: a PNG signature, a CSV header)."""
    size = rng.randrange(0, 400)
    if kind == 1:
        alphabet = string.printable + ',,,\t\t""\n\n\ufeff\u00e9'
        return "".join(rng.choice(alphabet) for _ in range(size)).encode()
    body = rng.randbytes(size)
    return (b"\x89PNG\r\n\x1a\n" + body) if kind == 2 else body


def test_random_bytes_as_images(image_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    rng = random.Random(SEED)
    real = io.BytesIO()
    Image.effect_noise((32, 32), 50).save(real, format="PNG")
    for i in range(ROUNDS):
        data = _noise(rng, i % 3) if i % 4 else real.getvalue()[: rng.randrange(40, len(real.getvalue()) // 2)]
        path = tmp_path / f"input-{i}.png"
        path.write_bytes(data)
        _refused(["explain", "--checkpoint", str(image_run), "--out", str(tmp_path / "out"), str(path)], f"image {i}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("modality", ["text", "tabular"])
def test_random_bytes_as_csv(modality: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    for i in range(ROUNDS):
        data = _noise(rng, i % 3)
        if i % 3 == 2:  # a header hnsx looks for, then noise
            data = b"text,label\n" + data[8:]
        path = tmp_path / f"table-{i}.{'tsv' if i % 2 else 'csv'}"
        path.write_bytes(data)
        argv = ["train", "--modality", modality, "--data-file", str(path), "--epochs", "1", "--no-progress", "--cpu"]
        argv += ["--target", "label"] if modality == "tabular" else []
        _refused([*argv, "--out", str(tmp_path / f"run-{i}")], f"{modality} CSV {i}: {data[:80]!r}")
        assert not (tmp_path / f"run-{i}").exists()


def _spec_paths(spec: dict, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a spec (a component's ``kwargs`` too), except ``freeze_seeker`` (any value reads as a bool)."""
    paths = []
    for key, value in spec.items():
        if key == "freeze_seeker":
            continue
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths += _spec_paths(value, (*prefix, key))
    return paths


def test_random_checkpoint_json(image_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    rng = random.Random(SEED)
    image = tmp_path / "digit.png"
    Image.effect_noise((8, 8), 50).save(image)  # a readable image: only the checkpoint is at fault
    best = image_run / "checkpoints" / "best"
    state = json.loads((best / "state.json").read_text())
    paths = [p for p in _spec_paths(state["spec"]) if p[-1] != "kwargs" or len(p) > 1]
    for i in range(3 * ROUNDS):
        folder = tmp_path / f"ckpt-{i}"
        shutil.copytree(best, folder)
        if i % 3 == 0:  # bytes, or text that may be JSON of another shape
            data = _noise(rng, rng.randrange(2)) if i % 2 else json.dumps(rng.choice(WRONG)).encode()
            (folder / "state.json").write_bytes(data)
            what = f"state.json {data[:60]!r}"
        else:  # one spec entry of the wrong kind
            path = rng.choice(paths)
            value = rng.choice(WRONG[1:] if "kwargs" in path else WRONG)  # None: a builder's default argument
            broken = copy.deepcopy(state)
            target = broken["spec"]
            for key in path[:-1]:
                target = target[key]
            if target.get(path[-1]) == value or (path[-1] == "kwargs" and value == {}):  # still valid
                value = "\x00garbage"
            target[path[-1]] = value
            (folder / "state.json").write_text(json.dumps(broken))
            what = f"spec {'.'.join(path)} = {value!r}"
        _refused(["explain", "--checkpoint", str(folder), "--out", str(tmp_path / "out"), str(image)], what)


def test_random_bytes_as_a_run_index(image_run: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    for i in range(ROUNDS):
        run = tmp_path / f"run-{i}"
        shutil.copytree(image_run, run)
        (run / "checkpoints" / "index.json").write_bytes(_noise(rng, i % 2))
        _refused(["explain", "--checkpoint", str(run), "--out", str(tmp_path / "out"), "x.png"], f"index {i}")
