"""The ``hnsx`` command line, run in-process through :func:`hnsx.cli.main`: train, resume, explain, errors, help.

One short run on scikit-learn's 8x8 digits (module-scoped) feeds the resume and explain tests; every test that
changes a run works on a copy of it.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hnsx.cli import main

# Two epochs are too few for the masks to settle: the first epoch's collapse warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")

TRAIN_ARGS = [
    "train",
    "--dataset",
    "digits",
    "--epochs",
    "2",
    "--pretrain-epochs",
    "1",
    "--batch-size",
    "64",
    "--alpha",
    "0.5",
    "--no-progress",
    "--cpu",
]


def _with_epochs(args: list[str], epochs: int) -> list[str]:
    out = list(args)
    out[out.index("--epochs") + 1] = str(epochs)
    return out


def _one_line_error(err: str, command: str) -> str:
    """The single stderr line of a failed command, checked for the ``hnsx COMMAND: error:`` form."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "Traceback" not in err
    assert lines[0].startswith(f"hnsx {command}: error: "), lines[0]
    return lines[0]


def _history(run: Path) -> list[str]:
    return (run / "history.jsonl").read_text().splitlines()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A finished 2-epoch run folder (never modified by the tests) and the stdout of ``hnsx train``."""
    run = tmp_path_factory.mktemp("cli") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([*TRAIN_ARGS, "--out", str(run)])
    assert code == 0, stderr.getvalue()
    return run, stdout.getvalue()


@pytest.fixture
def run_copy(trained: tuple[Path, str], tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained[0], copy)
    return copy


@pytest.fixture
def digit_png(tmp_path: Path) -> Path:
    from PIL import Image

    from hnsx.adapters.image.data import load_sklearn_digits

    images, _ = load_sklearn_digits(seed=0).eval.tensors
    pixels = (images[0, 0] * 255).round().to(torch.uint8).numpy()
    path = tmp_path / "img.png"
    Image.fromarray(pixels, mode="L").save(path)
    return path


# ------------------------------------------------------------------------------------------------------- train


def test_train_writes_metrics_history_and_checkpoints(trained: tuple[Path, str]) -> None:
    run, stdout = trained
    metrics = json.loads((run / "metrics.json").read_text())
    for key in (
        "fidelity",
        "interpretability",
        "fir",
        "fii",
        "accuracy",
        "baseline_accuracy",
        "collapsed",
        "epochs",
        "seconds",
    ):
        assert key in metrics, key
    f, i = metrics["fidelity"], metrics["interpretability"]
    assert math.isfinite(f) and f >= 0.0
    assert 0.0 <= i <= 1.0
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert 0.0 < metrics["baseline_accuracy"] <= 1.0
    assert metrics["fii"] == pytest.approx(f * i, rel=1e-6, abs=1e-9)
    assert metrics["fir"] == pytest.approx(f / (f + i), rel=1e-6)
    assert 0.0 <= metrics["fir"] <= 1.0
    assert isinstance(metrics["collapsed"], bool)
    assert metrics["epochs"] == 2
    assert metrics["seconds"] > 0.0
    assert metrics["dataset"] == "digits"

    records = [json.loads(line) for line in _history(run)]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["fidelity"] == pytest.approx(f)

    index = run / "checkpoints" / "index.json"
    assert index.is_file()
    assert (run / "checkpoints" / json.loads(index.read_text())["latest"] / "model.safetensors").is_file()

    assert "Interpretability I" in stdout
    assert f"wrote {run}/metrics.json" in stdout


def test_resume_continues_the_run(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _history(run_copy)
    code = main([*_with_epochs(TRAIN_ARGS, 3), "--out", str(run_copy), "--resume"])
    assert code == 0, capsys.readouterr().err
    after = _history(run_copy)
    assert len(after) == 3
    assert after[:2] == before
    assert json.loads(after[2])["epoch"] == 3
    assert json.loads((run_copy / "metrics.json").read_text())["epochs"] == 3


def test_resume_with_a_different_lr_is_refused(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _history(run_copy)
    index = (run_copy / "checkpoints" / "index.json").read_text()
    code = main([*_with_epochs(TRAIN_ARGS, 3), "--lr", "0.01", "--out", str(run_copy), "--resume"])
    assert code == 2
    line = _one_line_error(capsys.readouterr().err, "train")
    assert re.search(r"\blr: 0\.001 -> 0\.01\b", line), line
    assert "batch_size" not in line  # only the setting that changed is named
    # Nothing was touched.
    assert _history(run_copy) == before
    assert (run_copy / "checkpoints" / "index.json").read_text() == index


# ----------------------------------------------------------------------------------------------------- explain


def test_explain_writes_an_overlay_and_names_the_class(
    trained: tuple[Path, str], digit_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hnsx.adapters.image.explain import read_image
    from hnsx.explain import load_trained

    run, _ = trained
    out = tmp_path / "explained"
    code = main(["explain", "--checkpoint", str(run), str(digit_png), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out

    overlay = out / "img-explained.png"
    assert overlay.is_file()
    from PIL import Image

    with Image.open(overlay) as img:
        assert img.format == "PNG"

    model = load_trained(run)
    with torch.no_grad():
        expected = int(model(read_image(digit_png, model.adapter.input_shape)[None]).logits.argmax(1))
    match = re.search(r"class (\d+) \(", stdout)
    assert match, stdout
    assert int(match.group(1)) == expected
    assert str(digit_png) in stdout
    assert str(overlay) in stdout


# ------------------------------------------------------------------------------------------------------ errors


def test_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [*TRAIN_ARGS, "--out", str(tmp_path / "run")]
    args[args.index("digits")] = "no-such-set"
    assert main(args) == 2
    line = _one_line_error(capsys.readouterr().err, "train")
    assert "no-such-set" in line
    assert "digits" in line  # the choices are listed
    assert not (tmp_path / "run").exists()


def test_limit_on_an_offline_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The offline sets take no limit: a clear error, not a TypeError traceback from the loader.
    assert main([*TRAIN_ARGS, "--limit", "100", "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys.readouterr().err, "train")
    assert "--limit" in line
    assert "'digits'" in line
    assert not (tmp_path / "run").exists()


def test_alpha_out_of_range_is_an_argparse_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [*TRAIN_ARGS, "--out", str(tmp_path / "run")]
    args[args.index("--alpha") + 1] = "1.5"
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--alpha" in err
    assert "alpha must lie in [0, 1], got 1.5" in err
    assert "Traceback" not in err


def test_stochastic_binarizer_needs_an_estimator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TRAIN_ARGS, "--binarizer", "stochastic", "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys.readouterr().err, "train")
    assert "--estimator" in line
    assert not (tmp_path / "run").exists()


def test_hider_size_is_only_for_the_conv_autoencoder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TRAIN_ARGS, "--hider-size", "small", "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys.readouterr().err, "train")
    assert "--hider-size" in line and "pyramid" in line
    assert not (tmp_path / "run").exists()


def test_explain_on_a_folder_that_is_not_a_checkpoint(
    digit_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "not-a-run"
    folder.mkdir()
    assert main(["explain", "--checkpoint", str(folder), str(digit_png), "--out", str(tmp_path / "out")]) == 2
    line = _one_line_error(capsys.readouterr().err, "explain")
    assert str(folder) in line
    assert "checkpoint" in line


def test_explain_on_a_missing_image(
    trained: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.png"
    assert main(["explain", "--checkpoint", str(trained[0]), str(missing), "--out", str(tmp_path / "out")]) == 2
    line = _one_line_error(capsys.readouterr().err, "explain")
    assert str(missing) in line
    assert "not found" in line


def test_explain_on_a_file_that_is_not_an_image(
    trained: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    assert main(["explain", "--checkpoint", str(trained[0]), str(text), "--out", str(tmp_path / "out")]) == 2
    line = _one_line_error(capsys.readouterr().err, "explain")
    assert str(text) in line
    assert "not an image" in line


# -------------------------------------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("demo", ["--out", "--epochs", "--seed", "--no-progress"]),
        (
            "train",
            [
                "--dataset",
                "--out",
                "--resume",
                "--binarizer",
                "--estimator",
                "--hider",
                "--seeker",
                "--fill",
                "--epochs",
                "--batch-size",
                "--lr",
                "--alpha",
                "--pretrain-epochs",
                "--seed",
                "--cpu",
                "--no-progress",
            ],
        ),
        ("explain", ["--checkpoint", "--which", "--out", "INPUT"]),
    ],
)
def test_help_lists_the_options(
    command: str, options: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hnsx.cli

    def must_not_run(args):  # --help parses only
        raise AssertionError(f"hnsx {command} --help ran the command")

    monkeypatch.setitem(hnsx.cli.COMMANDS, command, must_not_run)
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: hnsx {command}")
    for option in options:
        assert option in out, option


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "hnsx"
    assert script.is_file(), f"{script} is missing: reinstall with `pip install -e .`"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in ("demo", "train", "explain"):
        assert command in proc.stdout


def test_a_modality_s_train_defaults_replace_the_parser_s_and_the_command_line_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hnsx.cli
    from hnsx.modality import get_modality

    seen: list = []
    monkeypatch.setitem(hnsx.cli.COMMANDS, "train", lambda args: seen.append(args) or 0)
    monkeypatch.setattr(type(get_modality("tabular")), "train_defaults", {"epochs": 3, "target_kept": 0.25})
    assert main(["train", "--modality", "tabular", "--out", "x"]) == 0
    assert (seen[-1].epochs, seen[-1].target_kept) == (3, 0.25)
    assert main(["-v", "train", "--modality", "tabular", "--epochs", "7", "--out", "x"]) == 0
    assert (seen[-1].epochs, seen[-1].target_kept) == (7, 0.25)  # what the command line gives wins
    assert main(["train", "--modality", "tabular", "--alpha", "0.7", "--out", "x"]) == 0
    assert (seen[-1].alpha, seen[-1].target_kept) == (0.7, None)  # an alpha given wins over a default target
    assert main(["train", "--out", "x"]) == 0  # another modality: the core's defaults
    assert (seen[-1].epochs, seen[-1].target_kept) == (10, None)
    monkeypatch.setattr(type(get_modality("tabular")), "train_defaults", {"epoch": 3})
    assert main(["train", "--modality", "tabular", "--out", "x"]) == 2  # a default that names no option
