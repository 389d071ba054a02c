"""``hnsx train-contrastive`` and contrastive Hide-and-Seek in ``hnsx explain --contrast``: the pair hider stored in
a run folder holds its target kept fraction, reloads with the same masks, only around the classifier it was trained
against; ``hnsx explain --contrast`` writes its overlay beside CDeepEx's; bad input is refused in one line.

Everything runs on scikit-learn's 8x8 digits (offline), seeded.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import shutil
from pathlib import Path

import pytest
import torch

from hnsx.adapters.image.adapter import ImageAdapter
from hnsx.adapters.image.contrastive.hns import (
    ContrastiveConfig,
    evaluate_contrastive_hns,
    load_contrastive_hns,
    save_contrastive_hns,
    train_contrastive_hns,
)
from hnsx.adapters.image.contrastive.render import explain_hns_files
from hnsx.adapters.image.contrastive.vae import GeneratorConfig, save_generator, train_vae
from hnsx.adapters.image.data import load_sklearn_digits
from hnsx.cli import main
from hnsx.explain import load_trained
from hnsx.training.checkpoint import CheckpointError

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def digits():
    return load_sklearn_digits(seed=0)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-epoch Hide-and-Seek run on the digits with a contrastive hider trained by ``hnsx train-contrastive``
    (target kept fraction 0.2, the default)."""
    folder = tmp_path_factory.mktemp("contrastive") / "run"
    args = ["train", "--dataset", "digits", "--epochs", "2", "--pretrain-epochs", "0", "--no-progress", "--cpu"]
    assert _run([*args, "--out", str(folder)])[0] == 0
    code, out, err = _run(["train-contrastive", "--checkpoint", str(folder), "--epochs", "5", "--no-progress"])
    assert code == 0, err
    assert "contrastive hider: kept" in out
    return folder


def test_train_contrastive_holds_the_target_and_its_stored_hider_gives_the_same_masks(run: Path, digits):
    metrics = json.loads((run / "contrastive" / "metrics.json").read_text())
    assert metrics["dataset"] == "digits" and len(metrics["history"]) == 5
    assert 0.1 < metrics["eval"]["kept"] < 0.35, metrics["eval"]  # target 0.2
    assert metrics["eval"]["pair_accuracy"] > 0.9, metrics["eval"]
    model = load_trained(run)
    hns = load_contrastive_hns(run / "contrastive", model.seeker, model.adapter)
    # the reloaded hider answers exactly as the one the command evaluated before saving it
    assert evaluate_contrastive_hns(hns, digits.eval.tensors[0], seed=0) == metrics["eval"]


def test_a_saved_hider_reloads_with_the_same_masks_and_only_around_its_classifier(tmp_path: Path, run: Path, digits):
    classifier, adapter = load_trained(run).seeker, ImageAdapter((1, 8, 8))
    config = ContrastiveConfig(target_kept=0.2, epochs=2)
    trained, _ = train_contrastive_hns(classifier, adapter, digits.train, 10, config)
    save_contrastive_hns(trained, tmp_path / "hider", config=config, info={"dataset": "digits"})
    loaded = load_contrastive_hns(tmp_path / "hider", classifier, adapter)
    x = digits.eval.tensors[0][:40]
    a = classifier(x).argmax(1)
    b = (a + 3) % 10
    with torch.no_grad():
        assert torch.equal(loaded.keep_probability(x, a, b), trained.keep_probability(x, a, b))
        assert torch.equal(loaded(x, a, b)[1], trained(x, a, b)[1])
    probe = int(b[0])
    records = explain_hns_files(loaded, x[:1], a[:1], ["p.png"], tmp_path, probe)
    assert records[0]["overlay"] == str(tmp_path / f"p-contrast-hns-{probe}.png")
    assert Path(records[0]["overlay"]).is_file()
    with torch.no_grad():
        assert records[0]["kept"] == pytest.approx(float(trained(x[:1], a[:1], b[:1])[1].mean()))

    other = copy.deepcopy(classifier)
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)  # a classifier one step of training away
    with pytest.raises(CheckpointError, match="trained against another classifier"):
        load_contrastive_hns(tmp_path / "hider", other, adapter)
    vae = train_vae(digits.train, GeneratorConfig(latent_dim=2, hidden=8, epochs=1))[0]
    save_generator(vae, tmp_path / "gen", config=GeneratorConfig(), info={})
    with pytest.raises(CheckpointError, match="not a contrastive-hns checkpoint"):
        load_contrastive_hns(tmp_path / "gen", classifier, adapter)


def _image(tmp_path: Path, digits) -> Path:
    from PIL import Image

    png = tmp_path / "img.png"
    Image.fromarray((digits.eval.tensors[0][0, 0] * 255).round().to(torch.uint8).numpy(), mode="L").save(png)
    return png


def test_explain_contrast_writes_the_contrastive_hns_overlay_beside_cdeepex(run: Path, tmp_path: Path, digits):
    png = _image(tmp_path, digits)
    from hnsx.adapters.image.explain import read_image

    model = load_trained(run)
    with torch.no_grad():
        predicted = int(model.seeker(read_image(png, (1, 8, 8))[None]).argmax(1))
    contrast = (predicted + 1) % 10
    for method, files in ((None, ("", "hns-")), ("hns", ("hns-",)), ("cdeepex", ("",))):
        out = tmp_path / f"explained-{method}"
        argv = ["explain", "--checkpoint", str(run), str(png), "--out", str(out), "--contrast", str(contrast)]
        code, stdout, err = _run(argv + (["--contrast-method", method] if method else []))
        assert code == 0, err
        written = sorted(p.name for p in out.iterdir())
        assert written == sorted(["img-explained.png", *(f"img-contrast-{f}{contrast}.png" for f in files)])
        assert stdout.count(f"why {predicted} and not {contrast}") == len(files)


def test_bad_input_is_refused_in_one_line(run: Path, tmp_path: Path, digits):
    png = _image(tmp_path, digits)
    plain = tmp_path / "plain"  # the same run without a contrastive hider
    shutil.copytree(run, plain, ignore=shutil.ignore_patterns("contrastive"))
    lone = tmp_path / "lone"  # a checkpoint folder outside a run folder
    shutil.copytree(run / "checkpoints" / "best", lone)
    table = tmp_path / "table-run"  # a tabular checkpoint (refused by its spec, before anything is built)
    table.mkdir()
    spec = {
        "modality": "tabular",
        "input_shape": [4],
        "num_classes": 2,
        "adapter": {"name": "tabular", "kwargs": {}},
        "hider": {"name": "tabular-mlp", "kwargs": {}},
        "seeker": {"name": "tabular-mlp", "kwargs": {}},
        "binarizer": {"name": "deterministic", "kwargs": {"estimator": "st1"}},
    }
    (table / "state.json").write_text(json.dumps({"format": "hnsx-checkpoint", "version": 1, "spec": spec}))
    explain = [str(png), "--out", str(tmp_path / "x")]
    cases = [
        (["explain", "--checkpoint", str(run), *explain, "--contrast", "10"], "not a class of this model"),
        (["explain", "--checkpoint", str(run), *explain, "--contrast-method", "hns"], "applies to --contrast CLASS"),
        (["explain", "--checkpoint", str(plain), *explain, "--contrast", "3", "--contrast-method", "both"],
         "holds no contrastive hider; train one with hnsx train-contrastive"),
        (["explain", "--checkpoint", str(run), *explain, "--contrast", "3", "--contrast-method", "hns",
          "--generator", str(run)], "--generator applies to CDeepEx"),
        (["train-contrastive", "--checkpoint", str(run)], "already holds a contrastive hider"),
        (["train-contrastive", "--checkpoint", str(table)], "explain contrasts (image, text), not to tabular models"),
        (["train-contrastive", "--checkpoint", str(lone)], "outside a run folder"),
        (["train-contrastive", "--checkpoint", str(plain), "--dataset", "mnist-embedded"], "images of shape"),
        (["train-contrastive", "--checkpoint", str(plain), "--target-kept", "1.5"], "target"),
    ]  # fmt: skip
    for argv, message in cases:
        code, _, err = _run(argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert not (tmp_path / "x").exists() and not (plain / "contrastive").exists()
