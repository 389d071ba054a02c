"""Every refused input of ``docs/errors.md``, fed to :func:`hnsx.cli.main`: exit code 2, the catalogued one-line
message, and no file written, changed or lost.

``docs/errors.md`` is generated from :data:`CASES`: ``python tests/test_errors_catalogue.py`` rewrites it, and
:func:`test_catalogue_is_current` fails when it is stale. Paths are shown relative to the test's folder (``TMP``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "docs" / "errors.md"
IMAGE_RUN = ["train", "--dataset", "digits", "--epochs", "1", "--pretrain-epochs", "0", "--batch-size", "64"]
IMAGE_RUN += ["--alpha", "0.5", "--no-progress", "--cpu"]


@dataclass(frozen=True)
class Case:
    """One refused input: ``argv`` with ``{tmp}`` (the test's folder) and ``{run}`` (a trained image run copied into
    it), files made by ``setup(tmp)``, and what the catalogue says it shows."""

    id: str
    what: str
    argv: list[str]
    setup: Callable[[Path], None] | None = None
    needs_run: bool = False
    read_only: bool = False  # the --out's parent refuses writes (simulated: the tests may run as root)
    tags: tuple[str, ...] = field(default_factory=tuple)


def _file(name: str, content: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return setup


def _truncated_png(tmp: Path) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).save(buffer, format="PNG")
    (tmp / "cut.png").write_bytes(buffer.getvalue()[:2000])  # the pixel data stops a little after its start


def _crafted_checkpoint(seeker_kwargs: dict, hider: str = "token-masker", modality: str = "text"):
    """A checkpoint folder whose ``state.json`` names a text seeker with ``seeker_kwargs`` (no weights needed: the
    spec is refused before anything is built)."""

    def setup(tmp: Path) -> None:
        spec = {
            "modality": modality,
            "input_shape": [2, 16],
            "num_classes": 2,
            "adapter": {"name": "text", "kwargs": {"max_length": 16, "vocab_size": 100, "pad_id": 0, "fill_id": 3}},
            "hider": {"name": hider, "kwargs": {"vocab_size": 100}},
            "seeker": {"name": "hf-sequence-classifier", "kwargs": seeker_kwargs},
            "binarizer": {"name": "deterministic", "kwargs": {"estimator": "st1"}},
        }
        folder = tmp / "crafted"
        folder.mkdir()
        state = {"format": "hnsx-checkpoint", "version": 1, "kind": "best", "spec": spec}
        (folder / "state.json").write_text(json.dumps(state))

    return setup


def _folder_with_notes(tmp: Path) -> None:
    (tmp / "old").mkdir()
    (tmp / "old" / "notes.txt").write_text("an earlier run's notes\n")


TEXT = ["train", "--modality", "text", "--epochs", "1", "--no-progress", "--cpu"]
TABLE = ["train", "--modality", "tabular", "--epochs", "1", "--no-progress", "--cpu"]
CRAFTED = ["explain", "--checkpoint", "{tmp}/crafted", "--out", "{tmp}/explained", "a fine film"]
EXPLAIN = ["explain", "--checkpoint", "{run}", "--out", "{tmp}/explained"]

CASES = [
    # -- where results go (checked before any work) ------------------------------------------------------------
    Case("train-out-is-a-file", "`--out` is an existing file", [*IMAGE_RUN, "--out", "{tmp}/taken.txt"],
         _file("taken.txt", "x")),
    Case("train-out-below-a-file", "`--out` lies below a file", [*IMAGE_RUN, "--out", "{tmp}/taken.txt/run"],
         _file("taken.txt", "x")),
    Case("train-out-not-writable", "`--out` in a folder this user cannot write", [*IMAGE_RUN, "--out", "{tmp}/ro/run"],
         lambda tmp: (tmp / "ro").mkdir(), read_only=True),
    Case("train-out-not-empty", "`--out` holds files, without `--resume` or `--overwrite`",
         [*IMAGE_RUN, "--out", "{tmp}/old"], _folder_with_notes),
    Case("explain-out-is-a-file", "`hnsx explain --out` is an existing file",
         ["explain", "--checkpoint", "{run}", "--out", "{tmp}/taken.txt", "{tmp}/taken.txt"], _file("taken.txt", "x"),
         needs_run=True),
    Case("bench-out-is-a-file", "`hnsx bench --out` is an existing file (refused before minutes of work)",
         ["bench", "faithfulness", "--quick", "--explainers", "random", "--seeds", "1", "--out", "{tmp}/taken.txt"],
         _file("taken.txt", "x")),
    Case("bench-speed-text-built-in", "`hnsx bench speed --modality text` without a model or data of one",
         ["bench", "speed", "--modality", "text", "--out", "{tmp}/bench"]),
    Case("bench-checkpoint-other-modality", "`hnsx bench --checkpoint` of an image run with `--modality text`",
         ["bench", "sanity", "--checkpoint", "{run}", "--modality", "text", "--out", "{tmp}/bench"], needs_run=True),
    Case("study-out-is-a-file", "`hnsx study --out` is an existing file",
         ["study", "init", "--quick", "--out", "{tmp}/taken.txt"], _file("taken.txt", "x")),
    # -- builders of another modality ---------------------------------------------------------------------------
    Case("train-text-seeker-on-images", "a text seeker for images",
         [*IMAGE_RUN, "--seeker", "tiny-bert", "--out", "{tmp}/run"]),
    Case("train-text-hider-on-images", "a text hider for images",
         [*IMAGE_RUN, "--hider", "token-masker", "--out", "{tmp}/run"]),
    Case("train-table-hider-on-images", "a tabular hider for images",
         [*IMAGE_RUN, "--hider", "tabular-mlp", "--out", "{tmp}/run"]),
    Case("study-text-hider", "`hnsx study --hider` of another modality",
         ["study", "init", "--quick", "--hider", "token-masker", "--out", "{tmp}/study"]),
    Case("explain-checkpoint-foreign-hider", "a checkpoint whose spec pairs image inputs with a text hider",
         [*CRAFTED[:5], "x.png"], _crafted_checkpoint({"model_name": "minilm"}, modality="image")),
    # -- options that do not apply ------------------------------------------------------------------------------
    Case("tabular-fill", "an image option (`--fill`) with `--modality tabular`",
         [*TABLE, "--fill", "mean", "--out", "{tmp}/run"]),
    Case("tabular-hider-size", "`--hider-size` with `--modality tabular`",
         [*TABLE, "--hider-size", "large", "--out", "{tmp}/run"]),
    Case("tabular-limit", "`--limit` with a table", [*TABLE, "--limit", "100", "--out", "{tmp}/run"]),
    Case("negative-seed", "`--seed -1`", [*TABLE, "--seed", "-1", "--out", "{tmp}/run"]),
    # -- text files ---------------------------------------------------------------------------------------------
    Case("text-unquoted-commas", "a CSV sentence with unquoted commas (more fields than the header)",
         [*TEXT, "--data-file", "{tmp}/reviews.csv", "--out", "{tmp}/run"],
         _file("reviews.csv", "text,label\ngood film,pos\nslow, long and dull,neg\nfine,pos\n")),
    Case("text-short-row", "a CSV row with fewer fields than the header",
         [*TEXT, "--data-file", "{tmp}/reviews.csv", "--out", "{tmp}/run"],
         _file("reviews.csv", "text,label\ngood film,pos\njust text\n")),
    Case("text-one-class", "every row has the same label",
         [*TEXT, "--data-file", "{tmp}/reviews.tsv", "--out", "{tmp}/run"],
         _file("reviews.tsv", "text\tlabel\n" + "".join(f"film {i}\t5\n" for i in range(6)))),
    Case("text-not-utf8", "a data file that is not UTF-8",
         [*TEXT, "--data-file", "{tmp}/reviews.csv", "--out", "{tmp}/run"],
         _file("reviews.csv", b"text,label\ncaf\xe9,1\n")),
    Case("text-max-length-0", "`--max-length 0`", [*TEXT, "--max-length", "0", "--out", "{tmp}/run"]),
    Case("text-tsv-quotes-without-file", "`--tsv-quotes` without `--data-file`",
         [*TEXT, "--tsv-quotes", "--out", "{tmp}/run"]),
    # -- resuming -----------------------------------------------------------------------------------------------
    Case("resume-other-hider", "`--resume` with another hider",
         [*IMAGE_RUN, "--hider", "conv-autoencoder", "--resume", "--out", "{run}"], needs_run=True),
    Case("resume-other-dataset", "`--resume` with another data set",
         [*IMAGE_RUN[:2], "mnist-embedded", *IMAGE_RUN[3:], "--resume", "--out", "{run}"], needs_run=True),
    Case("resume-nothing", "`--resume` where no run was saved", [*IMAGE_RUN, "--resume", "--out", "{tmp}/empty"],
         lambda tmp: (tmp / "empty").mkdir()),
    # -- explain inputs -----------------------------------------------------------------------------------------
    Case("explain-a-folder", "a folder given as an image", [*EXPLAIN, "{tmp}/pictures"],
         lambda tmp: (tmp / "pictures").mkdir(), needs_run=True),
    Case("explain-truncated-png", "a truncated PNG", [*EXPLAIN, "{tmp}/cut.png"], _truncated_png, needs_run=True),
    Case("explain-not-an-image", "a file that is no image", [*EXPLAIN, "{tmp}/notes.png"],
         _file("notes.png", "not a picture"), needs_run=True),
    # -- checkpoints never fetch or run code --------------------------------------------------------------------
    Case("checkpoint-hub-model", "a checkpoint whose seeker names a hub model",
         CRAFTED, _crafted_checkpoint({"model_name": "someone/any-model"})),
    Case("checkpoint-remote-code", "a checkpoint whose seeker sets `trust_remote_code`",
         CRAFTED, _crafted_checkpoint({"model_name": "minilm", "trust_remote_code": True})),
    Case("checkpoint-config-code", "a checkpoint whose seeker config names code (`auto_map`)",
         CRAFTED, _crafted_checkpoint({"model_config": {"model_type": "bert", "auto_map": {"x": "y.Z"}}})),
    Case("checkpoint-unknown-argument", "a checkpoint passing other `from_pretrained` arguments",
         CRAFTED, _crafted_checkpoint({"model_name": "minilm", "revision": "main", "cache_dir": "/tmp"})),
    Case("checkpoint-not-json", "a checkpoint whose `state.json` is not JSON", CRAFTED,
         lambda tmp: _file("crafted/state.json", b"\x89PNG\x00\xff")(tmp)),
]  # fmt: skip
CASE_IDS = [case.id for case in CASES]


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder below ``folder``: content hash (folders: ``dir``) and mode."""
    out = {}
    for path in sorted(folder.rglob("*")):
        digest = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(folder))] = (digest, path.stat().st_mode)
    return out


def run_case(case: Case, tmp: Path, trained_run: Path | None) -> tuple[int, str, str]:
    """Prepare ``case`` in ``tmp`` and run it; exit code, stdout and stderr (paths shown relative to ``TMP``)."""
    from hnsx.cli import main

    if case.setup is not None:
        case.setup(tmp)
    if case.needs_run:
        shutil.copytree(trained_run, tmp / "run")
    argv = [a.format(tmp=tmp, run=tmp / "run") for a in case.argv]
    out, err = io.StringIO(), io.StringIO()
    real_access = os.access

    def access(path, mode, **kwargs):
        return False if case.read_only and Path(path) == tmp / "ro" else real_access(path, mode, **kwargs)

    os.access = access
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.access = real_access
    return code, out.getvalue(), err.getvalue().replace(str(tmp), "TMP")


def render(messages: dict[str, str]) -> str:
    """``docs/errors.md`` for the messages of every case."""
    lines = [
        "# Refused inputs and their messages",
        "",
        "Every input below is refused by `hnsx` with exit code 2 and one line on stderr, before anything is written;",
        "bad input through the Python API raises `ValueError` (or `FileNotFoundError`) with the same text. The",
        "table is generated by `python tests/test_errors_catalogue.py` from the cases that",
        "`tests/test_errors_catalogue.py` runs (paths are shown relative to the test's folder, `TMP`; a trained run",
        "copied there is `TMP/run`). Any other file-system error (`OSError`) also ends in one line and exit code 2.",
        "",
        "| case | input | command | message |",
        "|:---|:---|:---|:---|",
    ]
    for case in CASES:
        command = " ".join(case.argv).format(tmp="TMP", run="TMP/run").replace("|", "\\|")
        message = messages[case.id].replace("|", "\\|")
        lines.append(f"| {case.id} | {case.what} | `hnsx {command}` | {message} |")
    return "\n".join(lines) + "\n"


def documented() -> dict[str, str]:
    """The message of each case as ``docs/errors.md`` has it."""
    out = {}
    for line in CATALOGUE.read_text().splitlines():
        cells = [c.strip() for c in line.replace("\\|", "\0").split("|")[1:-1]]
        if len(cells) == 4 and cells[0] in CASE_IDS:
            out[cells[0]] = cells[3].replace("\0", "|")
    return out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch image run on scikit-learn's 8x8 digits (copied by the cases that use it)."""
    return train_image_run(tmp_path_factory.mktemp("catalogue") / "run")


def train_image_run(folder: Path) -> Path:
    from hnsx.cli import main

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # one epoch: the collapse warning is expected
        assert main([*IMAGE_RUN, "--out", str(folder)]) == 0
    return folder


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_refused(case: Case, tmp_path: Path, trained_run: Path) -> None:
    before = None

    def setup(tmp: Path) -> None:
        nonlocal before
        if case.setup is not None:
            case.setup(tmp)
        if case.needs_run:
            shutil.copytree(trained_run, tmp / "run")
        before = snapshot(tmp)

    code, _, err = run_case(Case(**{**case.__dict__, "setup": setup, "needs_run": False}), tmp_path, None)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    command = case.argv[0]
    assert lines[0].startswith(f"hnsx {command}: error: "), lines[0]
    assert lines[0].removeprefix(f"hnsx {command}: error: ") == documented()[case.id]
    assert snapshot(tmp_path) == before, "a refused input changed the files"


def test_catalogue_is_current() -> None:
    """Every case is in ``docs/errors.md`` and every row of it is a case, in the same order."""
    rows = list(documented())
    assert rows == CASE_IDS, "docs/errors.md is stale: run python tests/test_errors_catalogue.py"
    assert CATALOGUE.read_text() == render(documented())


def main() -> None:
    """Rewrite ``docs/errors.md`` from the messages the cases give now."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        trained = train_image_run(Path(root) / "trained")
        messages = {}
        for case in CASES:
            tmp = Path(root) / case.id
            tmp.mkdir()
            code, _, err = run_case(case, tmp, trained)
            if code != 2:
                sys.exit(f"{case.id}: exit code {code}\n{err}")
            messages[case.id] = err.strip().split(": error: ", 1)[1]
    CATALOGUE.write_text(render(messages))
    print(f"wrote {CATALOGUE}")


if __name__ == "__main__":
    main()
