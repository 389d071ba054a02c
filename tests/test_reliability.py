"""Issue 22: nothing lost, nothing executed from a checkpoint, files read as they are meant.

The refusals themselves (message, exit code 2, no file touched) are in ``test_errors_catalogue.py``; these tests
check what happens when hnsx goes on: a resumed pretraining, an overwritten run, 16-bit images, TSV quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_errors_catalogue import IMAGE_RUN, train_image_run

from hnsx.cli import COMMANDS, main

pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_image_run(tmp_path_factory.mktemp("reliability") / "run")


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# -- 1. file-system errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (PermissionError(13, "Permission denied", "/data/run"), "Permission denied: /data/run"),
        (IsADirectoryError(21, "Is a directory", "pictures"), "Is a directory: pictures"),
        (OSError(28, "No space left on device"), "No space left on device"),
    ],
)
def test_any_os_error_is_one_line_and_exit_2(error: OSError, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setitem(COMMANDS, "train", fail)
    code, _, err = _main(["train", "--out", "somewhere"])
    assert code == 2
    assert err == f"hnsx train: error: {line}\n"


def test_overwrite_replaces_the_old_run_and_keeps_nothing_of_it(image_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    ckpts = run / "checkpoints"
    shutil.copytree(ckpts / "epoch-0001", ckpts / "epoch-0009")  # an old, longer run's epoch
    (ckpts / ".epoch-0003.tmp-abc").mkdir()  # a write that was killed
    code, _, err = _main([*IMAGE_RUN, "--overwrite", "--out", str(run)])
    assert code == 0, err
    assert sorted(p.name for p in ckpts.iterdir()) == ["best", "epoch-0001", "index.json"]
    assert json.loads((ckpts / "index.json").read_text())["latest"] == "epoch-0001"
    assert len((run / "history.jsonl").read_text().splitlines()) == 1


def test_checkpoint_files_get_the_usual_modes(tmp_path: Path) -> None:
    from hnsx.training.checkpoint import save_checkpoint

    old = os.umask(0o022)
    try:
        folder = save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(2)}, {"epoch": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "state.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "model.safetensors").stat().st_mode) == 0o644


def test_stale_temporaries_are_removed_and_a_set_aside_checkpoint_comes_back(tmp_path: Path) -> None:
    from hnsx.training.checkpoint import CheckpointDir, save_checkpoint

    ckpts = CheckpointDir(tmp_path)
    save_checkpoint(ckpts.root / "epoch-0001", {"w": torch.ones(2)}, {"epoch": 1})
    (ckpts.root / ".epoch-0002.tmp-x1").mkdir()
    (ckpts.root / ".index.json.tmp-y2").write_text("{")
    os.replace(ckpts.root / "epoch-0001", ckpts.root / ".epoch-0001.old-77")  # killed between the two renames
    ckpts.remove_stale()
    assert sorted(p.name for p in ckpts.root.iterdir()) == ["epoch-0001"]
    assert torch.equal(load_file(str(ckpts.root / "epoch-0001" / "model.safetensors"))["w"], torch.ones(2))


# -- 2. explain inputs ------------------------------------------------------------------------------------------------


def _digit() -> np.ndarray:
    from hnsx.adapters.image.data import load_sklearn_digits

    images, _ = load_sklearn_digits(seed=0).eval.tensors
    return (images[0, 0] * 255).round().to(torch.uint8).numpy()


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    from PIL import Image

    from hnsx.adapters.image.explain import read_image

    pixels = _digit()
    Image.fromarray(pixels, mode="L").save(tmp_path / "8.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(tmp_path / "16.png")  # the same image in 16 bits
    with Image.open(tmp_path / "16.png") as img:
        assert img.mode.startswith("I")
    eight, sixteen = (read_image(tmp_path / name, (1, 8, 8)) for name in ("8.png", "16.png"))
    assert sixteen.min() < 0.1  # clipping made every pixel white
    assert torch.allclose(sixteen, eight, atol=1 / 255)


def test_inputs_with_the_same_name_get_their_own_overlay(image_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(_digit(), mode="L").save(tmp_path / folder / "digit.png")
    out = tmp_path / "explained"
    code, stdout, err = _main(
        ["explain", "--checkpoint", str(image_run), "--out", str(out), *(str(tmp_path / f / "digit.png") for f in "ab")]
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["digit-2-explained.png", "digit-explained.png"]
    assert f"-> {out / 'digit-2-explained.png'}" in stdout


# -- 3. builders of another modality --------------------------------------------------------------------------------


def test_wrap_classifier_refuses_another_modalitys_hider() -> None:
    from torch import nn

    from hnsx.wrap import wrap_classifier

    classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with pytest.raises(ValueError, match=r"hider 'token-masker' is a text hider, not one for image inputs; .*pyramid"):
        wrap_classifier(classifier, (1, 8, 8), hider="token-masker")
    with pytest.raises(
        ValueError, match=r"unknown hider 'nope'; choose one of: conv-autoencoder, pyramid, unet \(the image ones\)"
    ):
        wrap_classifier(classifier, (1, 8, 8), hider="nope")


# -- 4. text files ----------------------------------------------------------------------------------------------------


def _load(path: Path, **kwargs):
    from hnsx.adapters.text.data import load_text_file
    from hnsx.adapters.text.seekers import bundled_minilm
    from hnsx.adapters.text.tokenize import load_tokenizer

    return load_text_file(path, load_tokenizer(bundled_minilm()), 16, **kwargs)


SENTENCES = [f"review number {i} of the film" for i in range(10)]


def test_a_tsv_reads_quotes_as_text(tmp_path: Path) -> None:
    rows = [f"{s}\t{i % 2}" for i, s in enumerate(SENTENCES)]
    rows[2] = '"a stray leading quote\t0'
    (tmp_path / "r.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    data = _load(tmp_path / "r.tsv")
    assert len(data.train) + len(data.eval) == 10
    with pytest.raises(ValueError, match="line 11 has 1 field"):  # with CSV quotes, lines 4 to 11 become one row
        _load(tmp_path / "r.tsv", quoting=True)


def test_a_byte_order_mark_is_dropped_and_the_labels_present_are_the_classes(tmp_path: Path) -> None:
    rows = "".join(f"{s},{1 if i % 2 else 5}\n" for i, s in enumerate(SENTENCES))
    (tmp_path / "r.csv").write_bytes(("\ufefftext,label\n" + rows).encode("utf-8"))
    data = _load(tmp_path / "r.csv")
    assert data.num_classes == 2 and data.class_names == ["1", "5"]
    labels = torch.cat([data.train.tensors[1], data.eval.tensors[1]])
    assert sorted(labels.unique().tolist()) == [0, 1]


def test_hnsx_train_says_how_many_rows_it_read(tmp_path: Path) -> None:
    from hnsx.adapters.text.commands import read_data

    rows = "".join(f"{s}\t{i % 2}\n" for i, s in enumerate(SENTENCES))
    (tmp_path / "r.tsv").write_text("text\tlabel\n" + rows)
    args = argparse.Namespace(data_file=str(tmp_path / "r.tsv"), dataset=None, text_column="text",
                              label_column="label", seed=0, tsv_quotes=False)  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        read_data(args, None, 16, True)
    assert out.getvalue() == f"read 10 rows of 2 classes from {tmp_path / 'r.tsv'} (8 train, 2 eval)\n"


def test_a_text_run_stopped_during_training_has_its_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hnsx.pipeline

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hnsx.pipeline, "run_training", killed)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), contextlib.redirect_stdout(io.StringIO()):
        main(["train", "--modality", "text", "--limit", "100", "--no-progress", "--cpu", "--out", str(run)])
    assert (run / "tokenizer" / "tokenizer.json").is_file()
    assert json.loads((run / "classes.json").read_text())["class_names"]


# -- 6. checkpoints fetch and run nothing unless asked ------------------------------------------------------------


class Fetched(Exception):
    """Raised by the stand-in ``from_pretrained``: it was reached."""


def test_a_checkpoints_hub_model_is_loaded_only_when_named_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_errors_catalogue import _crafted_checkpoint
    from transformers import AutoModelForSequenceClassification

    calls = []

    def from_pretrained(name, **kwargs):
        calls.append((name, kwargs))
        raise Fetched

    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", from_pretrained)
    _crafted_checkpoint({"model_name": "someone/any-model", "trust_remote_code": True})(tmp_path)
    explain = ["explain", "--checkpoint", str(tmp_path / "crafted"), "--out", str(tmp_path / "x"), "fine"]
    assert _main(explain)[0] == 2
    assert _main([*explain, "--model-name", "someone/any-model"])[0] == 2  # still no remote code
    assert _main([*explain, "--trust-remote-code"])[0] == 2  # still no hub model
    assert calls == []
    with pytest.raises(Fetched):
        _main([*explain, "--model-name", "someone/any-model", "--trust-remote-code"])
    assert calls == [("someone/any-model", {"num_labels": 2, "trust_remote_code": True})]


# -- 7. resume ------------------------------------------------------------------------------------------------------

PRETRAIN_RUN = [*IMAGE_RUN, "--init", "both", "--pretrain-epochs", "1"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("pretraining") / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert _main([*PRETRAIN_RUN, "--out", str(run)])[0] == 0
    return run


@pytest.mark.parametrize(("killed_in", "done"), [(1, ["hider"]), (2, ["hider", "seeker"])])
def test_a_run_killed_during_pretraining_resumes_to_the_same_weights(
    killed_in: int, done: list[str], uninterrupted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed in the seeker's pretraining (1) or the baseline seeker's training (2): resumed, the run ends with the
    uninterrupted run's weights and history, bit for bit."""
    import hnsx.training.pretrain as pretrain

    real, calls = pretrain.train_classifier, []

    def train_classifier(*args, **kwargs):
        calls.append(1)
        if len(calls) == killed_in:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    run = tmp_path / "run"
    monkeypatch.setattr(pretrain, "train_classifier", train_classifier)
    with pytest.raises(KeyboardInterrupt):
        _main([*PRETRAIN_RUN, "--out", str(run)])
    state = json.loads((run / "checkpoints" / "pretraining" / "state.json").read_text())
    assert state["pretraining"] == done
    monkeypatch.setattr(pretrain, "train_classifier", real)
    code, _, err = _main([*PRETRAIN_RUN, "--resume", "--out", str(run)])
    assert code == 0, err
    assert not (run / "checkpoints" / "pretraining").exists()
    for name in ("epoch-0001", "best"):
        mine = load_file(str(run / "checkpoints" / name / "model.safetensors"))
        theirs = load_file(str(uninterrupted / "checkpoints" / name / "model.safetensors"))
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)

    def history(folder: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in
                (folder / "history.jsonl").read_text().splitlines()]  # fmt: skip

    assert history(run) == history(uninterrupted)


# -- 7. tables --------------------------------------------------------------------------------------------------------


def test_a_table_error_names_the_row_of_the_whole_table() -> None:
    import pandas as pd

    from hnsx.adapters.tabular.data import _split, encode_labels, tabular_data

    labels = np.array([0, 1] * 20)
    _, eval_idx = _split(encode_labels(labels, None, name="y")[0], 0.2, 0)
    colour = np.array(["red", "blue"] * 20, dtype=object)
    row = int(eval_idx[-1])
    colour[row] = "green"  # seen in no training row
    frame = pd.DataFrame({"colour": colour, "size": np.arange(40.0)})
    with pytest.raises(ValueError, match=rf"category 'green' in data row {row + 1}, which was not seen"):
        tabular_data(frame, labels, name="t", seed=0)


def test_limit_takes_a_seeded_subset_of_a_data_file_inside_its_split(tmp_path: Path) -> None:
    from hnsx.adapters.text.commands import read_data

    sentences = [f"review number {i} of the film" for i in range(40)]
    (tmp_path / "r.tsv").write_text("text\tlabel\n" + "".join(f"{s}\t{i % 2}\n" for i, s in enumerate(sentences)))
    args = argparse.Namespace(data_file=str(tmp_path / "r.tsv"), dataset=None, text_column="text",
                              label_column="label", seed=0, tsv_quotes=False, limit=10)  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        read_data(args, None, 16, True)
    said = f"read 12 rows (a seeded subset: --limit 10) of 2 classes from {tmp_path / 'r.tsv'} (10 train, 2 eval)\n"
    assert out.getvalue() == said

    def rows(data, split: str) -> set[tuple[int, ...]]:
        return {tuple(t.flatten().tolist()) for t in getattr(data, split).tensors[0]}

    whole, subset = _load(tmp_path / "r.tsv"), _load(tmp_path / "r.tsv", limit=10)
    assert rows(subset, "train") < rows(whole, "train") and rows(subset, "eval") < rows(whole, "eval")
    assert rows(_load(tmp_path / "r.tsv", limit=10), "train") == rows(subset, "train")  # the same subset every time
    assert rows(_load(tmp_path / "r.tsv", limit=10, seed=1), "train") != rows(subset, "train")
    with pytest.raises(ValueError, match="limit must be a positive number"):
        _load(tmp_path / "r.tsv", limit=0)
