"""Benchmarks on the user's own model and data (issue 20): ``hnsx bench --checkpoint RUN`` with ``hnsx train``'s data
options, ``hnsx.benchmarks.compare``, ``report.html``, and the frozen wrapper that keeps a text classifier's
embeddings reachable."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from hnsx.adapters.image.idx import save_mnist_layout
from hnsx.benchmarks import compare
from hnsx.benchmarks.explainers import build_explainer
from hnsx.benchmarks.html import markdown_to_html, render_report
from hnsx.cli import main
from hnsx.modality import get_modality
from hnsx.model import FrozenModule
from hnsx.spec import build_model

REPO = Path(__file__).resolve().parents[1]
SIDE = 12
PATCH = 4  # the planted evidence: the top-left PATCH x PATCH pixels


class PatchClassifier(nn.Module):
    """Class 1 iff the mean of the top-left patch is above 0.5; nothing else matters (a planted ground truth)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(100.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.scale * (x[:, :, :PATCH, :PATCH].mean((1, 2, 3)) - 0.5)
        return torch.stack([-z, z], 1)


def planted_images(n: int = 48) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.rand(n, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(0))
    y = PatchClassifier()(x).argmax(1)
    gold = torch.zeros(n, SIDE, SIDE)
    gold[:, :PATCH, :PATCH] = 1
    return x, y, gold.reshape(n, -1)


def self_contained(page: str) -> bool:
    """No reference to anything outside the page: every src is a data: URI, no links, scripts or style sheets."""
    sources = re.findall(r'src="([^"]*)"', page)
    return all(s.startswith("data:image/png;base64,") for s in sources) and not re.search(
        r"<script|<link|href=|url\(", page
    )


# ------------------------------------------------------------------------------------------- frozen classifiers


def test_frozen_module_passes_the_embeddings_through_and_text_explainers_accept_it():
    spec, x = get_modality("text").example(num_classes=2)
    model = build_model(spec).eval()
    frozen = FrozenModule(model.seeker)
    assert frozen.input_embeddings() is model.seeker.input_embeddings()
    assert not hasattr(FrozenModule(nn.Linear(2, 2)), "get_input_embeddings")  # only what the module has
    target = torch.tensor([0, 1, 1, 0])
    plain = build_explainer("text-integrated-gradients", model.seeker, adapter=model.adapter, n_steps=4)
    wrapped = build_explainer("text-integrated-gradients", frozen, adapter=model.adapter, n_steps=4)
    expected = plain.attribute(x, target)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(wrapped.attribute(x, target), expected)


# ------------------------------------------------------------------------------------------------ report.html


def test_markdown_to_html_renders_tables_escapes_text_and_embeds_images(tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "a.png")
    md = "# Title\n\nSome `code` and <script>x</script>.\n\n| a | b |\n|:---|---:|\n| 1 | **2** |\n\n- one\n- two\n"
    page = markdown_to_html(md + "\n![plot](a.png)\n", tmp_path)
    assert "<h1>Title</h1>" in page and "<code>code</code>" in page and "&lt;script&gt;" in page
    assert "<th>a</th>" in page and "<td><strong>2</strong></td>" in page and "<li>two</li>" in page
    assert 'src="data:image/png;base64,' in page and "<script>" not in page
    full = render_report({"benchmark": "x", "config": {"k": 1}}, md, tmp_path, command="hnsx bench x")
    assert self_contained(full) and "hnsx bench x" in full


# ----------------------------------------------------------------------------------------------- Python call


def test_compare_a_plain_classifier_random_loses_to_the_oracle(tmp_path):
    x, y, gold = planted_images()
    result = compare(
        PatchClassifier(),
        (x, y),
        explainers=["saliency", "random"],
        metrics=["faithfulness"],
        rationale=gold,
        wrap={"fill": "mean", "mean": [0.5]},  # a removed pixel becomes 0.5: no evidence either way
        samples=48,
    )
    metrics = result.results["faithfulness"]["metrics"]
    assert set(result.explainers) == {"saliency", "random", "oracle"}
    auc = {name: {k: metrics[name][f"{k}_auc"]["mean"] for k in ("deletion", "insertion")} for name in metrics}
    assert auc["oracle"]["insertion"] > auc["random"]["insertion"] + 0.15
    assert auc["oracle"]["deletion"] < auc["random"]["deletion"]
    assert metrics["oracle"]["rationale_f1"]["mean"] == pytest.approx(1.0)
    assert metrics["random"]["rationale_f1"]["mean"] < 0.4
    assert metrics["saliency"]["rationale_f1"]["mean"] > 0.9  # only the patch has a gradient
    table = result.table()
    assert all(f"| {name} |" in table for name in ("saliency", "random", "oracle"))
    out = result.save(tmp_path / "saved")
    page = (out / "faithfulness" / "report.html").read_text()
    assert self_contained(page) and all(name in page for name in ("saliency", "random", "oracle"))
    assert "Explanations of the first test inputs" in page and page.count('src="data:image/png') >= 3
    assert (out / "table.md").read_text().strip() == table
    with pytest.raises(ValueError, match="trained Hide-and-Seek"):
        compare(PatchClassifier(), (x, y), explainers=["hns"])
    with pytest.raises(ValueError, match="unknown metric"):
        compare(PatchClassifier(), (x, y), metrics=["roar"])


# --------------------------------------------------------------------------------------------------- the CLI


def fashion_like(root: Path, n_train: int = 120, n_test: int = 40) -> None:
    """A tiny set in torchvision's Fashion-MNIST layout: class 1 has a bright top-left block."""
    gen = torch.Generator().manual_seed(0)
    splits = []
    for n in (n_train, n_test):
        x = torch.rand(n, 28, 28, generator=gen) * 0.3
        y = torch.arange(n) % 2
        x[y == 1, :8, :8] = 1.0
        splits.append((x, y))
    save_mnist_layout(root, splits[0], splits[1], "fashion-mnist")


def check_outputs(out: Path, explainers: list[str], model: Path) -> dict:
    results = json.loads((out / "results.json").read_text())
    assert str(model) in results["dataset"] and results["complete"]
    report, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert self_contained(page) and "--checkpoint" in page
    for name in explainers:
        assert f"| {name} |" in report and f"<td>{name}</td>" in page
    return results


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> tuple[list[str], Path]:
    """The data options of a tiny Fashion-MNIST layout and a run of ``hnsx train`` on it (trained once per module)."""
    tmp = tmp_path_factory.mktemp("image-run")
    fashion_like(tmp / "data")
    common = ["--dataset", "fashion-mnist", "--data-dir", str(tmp / "data")]
    argv = ["train", *common, "--epochs", "1", "--pretrain-epochs", "0", "--init", "scratch", "--fill", "mean"]
    assert main([*argv, "--batch-size", "32", "--no-progress", "--out", str(tmp / "run")]) == 0
    return common, tmp / "run"


def test_bench_faithfulness_on_a_torchvision_layout_and_a_checkpoint(tmp_path, image_run):
    common, run = image_run
    out = tmp_path / "bench"
    names = ["hns", "saliency", "random"]
    bench = ["bench", "faithfulness", "--checkpoint", str(run), *common, "--quick", "--seeds", "1", "--threads", "1"]
    assert main([*bench, "--explainers", ",".join(names), "--no-progress", "--out", str(out)]) == 0
    results = check_outputs(out, [*names, "hns-mask"], run)
    assert results["modality"] == "image" and results["config"]["samples"] == 40  # the whole test split
    # KAR on the same run and data: the run's seeker is explained, fresh seekers of its architecture retrained
    kar = ["bench", "kar", "--checkpoint", str(run), *common, "--quick", "--seeds", "1", "--threads", "1"]
    assert main([*kar, "--explainers", "hns,random", "--no-progress", "--out", str(tmp_path / "k")]) == 0
    kar_results = json.loads((tmp_path / "k" / "results.json").read_text())
    assert str(run) in kar_results["dataset"] and kar_results["modes"] == ["kar"]
    assert (tmp_path / "k" / "report.html").is_file()
    # the shortcut planted on the same data (it trains its own models: a --checkpoint is refused)
    cut = ["bench", "shortcut", *common, "--quick", "--seeds", "1", "--threads", "1", "--no-progress"]
    assert main([*cut, "--explainers", "saliency,random", "--out", str(tmp_path / "c")]) == 0
    planted = json.loads((tmp_path / "c" / "results.json").read_text())
    assert "fashion-mnist" in planted["dataset"] and "on every image of class" in planted["planted"]
    assert {"saliency", "random", "oracle"} <= set(planted["results"]["attribution"])
    # refused where it makes no sense
    assert main(["bench", "shortcut", "--checkpoint", str(run), *common, "--out", str(tmp_path / "c2")]) == 2
    assert main(["bench", "sanity", "--checkpoint", str(run), "--modality", "text", "--out", str(tmp_path / "s")]) == 2
    assert main(["bench", "sanity", *common, "--text-column", "t", "--out", str(tmp_path / "t")]) == 2


def test_bench_speed_times_every_explainer_on_a_checkpoint_and_its_data(tmp_path, image_run, monkeypatch):
    from hnsx.benchmarks import speed_data
    from hnsx.benchmarks.speed import QUICK
    from hnsx.explain import load_trained
    from hnsx.training.checkpoint import resolve_checkpoint

    common, run = image_run
    for key, value in (("batches", (2, 5)), ("repeats", 2), ("train_repeats", 2)):
        monkeypatch.setitem(QUICK, key, value)  # --quick, smaller still
    timed, real = [], speed_data.timed_model
    monkeypatch.setattr(speed_data, "timed_model", lambda *args: timed.append(real(*args)) or timed[-1])
    names = ["hns", "integrated-gradients", "saliency", "random"]
    out = tmp_path / "speed"
    bench = ["bench", "speed", "--checkpoint", str(run), *common, "--quick", "--threads", "1", "--no-progress"]
    assert main([*bench, "--explainers", ",".join(names), "--out", str(out)]) == 0
    results = check_outputs(out, names, run)
    assert results["explainers"] == names and results["test_size"] == 40 and results["input_shape"] == [1, 28, 28]
    assert list(results["methods"]) == ["batch2", "batch5"] and results["default"] == "batch5"
    for key, batch in (("batch2", 2), ("batch5", 5)):
        row = results["methods"][key]
        assert set(row) == set(names)
        for timing in row.values():
            assert timing["samples"] == batch and timing["samples_per_s"] == pytest.approx(batch / timing["seconds"])
            assert timing["repeats"] in (1, 2) and timing["peak_memory_mb"] is not None
    row = results["methods"]["batch5"]
    ratio = results["ratios"]["hns_vs_integrated-gradients"]
    assert ratio == pytest.approx(row["hns"]["samples_per_s"] / row["integrated-gradients"]["samples_per_s"])
    assert ratio > 1.5  # one pass of hider and seeker against 50 forward and backward passes
    step = results["train_step"]["batch5"]
    assert step["hns"]["seconds"] > 0 and step["seeker"]["seconds"] > 0
    assert "| batch 2 | batch 5 |" in (out / "report.md").read_text()
    # the run's model was timed, and left as it was (the training step ran on copies)
    saved = load_trained(resolve_checkpoint(run, "best")).state_dict()
    assert len(timed) == 1 and all(torch.equal(v, saved[k]) for k, v in timed[0].state_dict().items())


def test_speed_batches_repeat_the_test_split_from_its_start():
    from torch.utils.data import TensorDataset

    from hnsx.benchmarks.speed_data import batch_of

    x, y = batch_of(TensorDataset(torch.arange(3.0).view(3, 1), torch.tensor([0, 1, 2])), 5, torch.device("cpu"))
    assert x.flatten().tolist() == [0.0, 1.0, 2.0, 0.0, 1.0] and y.tolist() == [0, 1, 2, 0, 1]


def test_bench_faithfulness_text_checkpoint_and_data_file(tmp_path):
    rows = ["review\tstars"]
    words = ["the", "film", "was", "plot", "cast", "long", "story", "ending"]
    gen = torch.Generator().manual_seed(0)
    for i in range(160):
        picks = [words[int(j)] for j in torch.randint(len(words), (5,), generator=gen)]
        picks.insert(int(torch.randint(5, (1,), generator=gen)), "great" if i % 2 else "awful")
        rows.append(f"{' '.join(picks)}\t{i % 2}")
    data = tmp_path / "reviews.tsv"
    data.write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    columns = ["--data-file", str(data), "--text-column", "review", "--label-column", "stars"]
    argv = ["train", "--modality", "text", *columns, "--max-length", "16", "--epochs", "1", "--pretrain-epochs", "2"]
    argv += ["--init", "pretrained-seeker", "--batch-size", "32", "--no-progress", "--out", str(run)]
    assert main(argv) == 0
    out = tmp_path / "bench"
    names = ["hns", "integrated-gradients", "random"]
    bench = ["bench", "faithfulness", "--modality", "text", "--checkpoint", str(run), *columns, "--quick"]
    bench += ["--seeds", "1", "--threads", "1", "--explainers", ",".join(names), "--no-progress", "--out", str(out)]
    assert main(bench) == 0
    results = check_outputs(out, names, run)
    page = (out / "report.html").read_text()
    assert page.count('<div class="side">') == 4 and page.count("<strong>integrated-gradients</strong>") == 4
    assert results["modality"] == "text" and results["config"]["samples"] == 32  # the run's eval split (a fifth)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium package is not installed")
def test_report_html_renders_in_headless_chromium(tmp_path):
    x, y, gold = planted_images()
    result = compare(PatchClassifier(), (x, y), explainers=["saliency", "random"], rationale=gold, samples=16)
    page = result.save(tmp_path / "out") / "faithfulness" / "report.html"
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from check_highlights import find_chromium, screenshot
    finally:
        sys.path.pop(0)
    png = tmp_path / "page.png"
    screenshot(page, png, find_chromium())
    import numpy as np
    from PIL import Image

    with Image.open(png) as img:
        pixels = np.asarray(img.convert("RGB")).astype(int)
    coloured = (pixels.max(-1) - pixels.min(-1)) > 60  # the embedded plots' coloured curves, not text or tables
    assert coloured.sum() > 500


def test_bench_faithfulness_tabular_checkpoint_and_data_file(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "kind": rng.choice(["x", "y", "z"], n)})
    frame["label"] = np.where(frame["a"] > 0, "high", "low")  # only column a carries the label
    table = tmp_path / "table.csv"
    frame.to_csv(table, index=False)
    run = tmp_path / "run"
    data = ["--modality", "tabular", "--data-file", str(table), "--target", "label", "--classes", "low,high"]
    argv = ["train", *data, "--epochs", "3", "--pretrain-epochs", "3", "--alpha", "0.8", "--lr", "0.01"]
    assert main([*argv, "--init", "pretrained-seeker", "--no-progress", "--cpu", "--out", str(run)]) == 0
    out = tmp_path / "bench"
    names = ["hns", "integrated-gradients", "kernel-shap", "random"]
    bench = ["bench", "faithfulness", *data, "--checkpoint", str(run), "--quick", "--seeds", "1", "--threads", "1"]
    assert main([*bench, "--explainers", ",".join(names), "--no-progress", "--out", str(out)]) == 0
    results = check_outputs(out, names, run)
    assert results["modality"] == "tabular"
    deletion = {name: results["metrics"][name]["deletion_auc"]["mean"] for name in names}
    # deleting the features the methods rank first hurts the run's classifier more than deleting random ones
    # (measured: hns 0.652, integrated-gradients 0.647, kernel-shap 0.624, random 0.808)
    assert max(deletion[n] for n in ("hns", "integrated-gradients", "kernel-shap")) < deletion["random"] - 0.05
