"""ROAR and KAR (``hnsx bench roar`` / ``kar``) on tiny planted-signal images, and their command-line errors.

The toy images are 8x8 noise with a bright planted patch: class 0 lights pixels ``A``, class 1 pixels ``B``. An
oracle that ranks ``A`` and ``B`` first removes all the signal at a small fraction, so ROAR accuracy must fall to
chance while random removal leaves it high. Settings are tiny (a few epochs on a few hundred images), so the
assertions are margins, not exact values, except where the protocol fixes them exactly (KAR keeping everything
and ROAR removing nothing train the same model on the same data as the unmodified run).
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.image.bench import image_bench_data
from hnsx.benchmarks import roar, roar_seed
from hnsx.benchmarks.common import load_bench_data
from hnsx.benchmarks.explainers import Explainer
from hnsx.benchmarks.roar import RoarConfig, default_config, run_roar
from hnsx.cli import main

SIDE = 8
PLANTED = {0: [(1, 1), (1, 2), (2, 1), (2, 2)], 1: [(5, 5), (5, 6), (6, 5), (6, 6)]}


def planted_images(n: int, seed: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 1, SIDE, SIDE, generator=generator) * 0.4
    for label, pixels in PLANTED.items():
        rows = labels == label
        for r, c in pixels:
            images[rows, 0, r, c] = 1.0
    return TensorDataset(images, labels)


@pytest.fixture(scope="module")
def toy():
    return image_bench_data("planted", planted_images(300, 0), planted_images(120, 1), 2)


class Oracle(Explainer):
    """Scores 1 on every planted pixel (of both classes, so the filled pixels do not tell the class), 0 elsewhere."""

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        scores = torch.zeros(inputs.shape[0], 1, SIDE, SIDE)
        for pixels in PLANTED.values():
            for r, c in pixels:
                scores[:, 0, r, c] = 1.0
        return scores


def read(folder):
    return json.loads((folder / "results.json").read_text())


def test_oracle_beats_random_in_roar_and_kar(toy, tmp_path):
    from hnsx.benchmarks.explainers import RandomExplainer

    builders = {
        "oracle": lambda seeker, hns, seed: Oracle(seeker),
        "random": lambda seeker, hns, seed: RandomExplainer(seeker, seed=seed),
    }
    config = RoarConfig(explainers=("oracle", "random"), fractions=(0.15,), seeds=1, seeker_epochs=6)
    results = run_roar(toy, config, tmp_path, progress=False, builders=builders)
    roar_acc = {name: results["roar"][name]["fractions"]["0.15"]["mean"] for name in builders}
    kar_acc = {name: results["kar"][name]["fractions"]["0.15"]["mean"] for name in builders}
    assert results["unmodified"]["mean"] > 0.9
    assert roar_acc["oracle"] < 0.7  # every planted pixel removed: near chance
    assert roar_acc["random"] > roar_acc["oracle"] + 0.2
    assert kar_acc["oracle"] > 0.9  # the planted pixels alone suffice
    assert kar_acc["oracle"] > kar_acc["random"] + 0.2


def test_tiny_run_writes_results_report_and_plots_and_reuses_its_cache(toy, tmp_path, monkeypatch):
    config = RoarConfig(
        explainers=("hns", "layer-gradcam", "random"),
        fractions=(0.0, 0.5, 1.0),
        seeds=2,
        seeker_epochs=2,
        hns_epochs=1,
        hns_pretrain_epochs=1,
    )
    results = run_roar(toy, config, tmp_path, progress=False)
    saved = read(tmp_path)
    assert saved["benchmark"] == "roar" and saved["modality"] == "image"
    assert saved["seeds"] == [0, 1] and saved["explainers"] == ["hns", "layer-gradcam", "random"]
    for mode in ("roar", "kar"):
        assert set(saved[mode]) == {"hns", "layer-gradcam", "random"}
        for entry in saved[mode].values():
            assert set(entry["fractions"]) == {"0", "0.5", "1"}
            assert all(len(stats["values"]) == 2 for stats in entry["fractions"].values())
            assert all(0.0 <= v <= 1.0 for stats in entry["fractions"].values() for v in stats["values"])
        assert (tmp_path / f"{mode}.png").read_bytes()[:4] == b"\x89PNG"
    # Removing nothing and keeping everything train the unmodified model again: the same accuracy, per seed.
    unmodified = saved["unmodified"]["values"]
    for name in saved["explainers"]:
        assert saved["roar"][name]["fractions"]["0"]["values"] == unmodified
        assert saved["kar"][name]["fractions"]["1"]["values"] == unmodified
    report = (tmp_path / "report.md").read_text()
    assert "## ROAR" in report and "## KAR" in report and "2 (0, 1)" in report
    for name in saved["explainers"]:
        assert f"| {name} |" in report
    assert 0.0 <= saved["hns_model"]["kept_fraction"]["mean"] <= 1.0

    # A rerun with the same settings trains nothing; one more fraction retrains only that fraction.
    def no_training(*args, **kwargs):
        raise AssertionError("a cached run trained a model")

    monkeypatch.setattr(roar_seed, "hns_model", no_training)  # the built-in data: these would train
    monkeypatch.setattr(roar_seed, "seeker_model", no_training)
    monkeypatch.setattr(roar_seed, "train_seeker", no_training)
    again = run_roar(toy, config, tmp_path, progress=False)
    assert again["roar"] == results["roar"] and again["kar"] == results["kar"]

    calls = []
    monkeypatch.setattr(roar_seed, "train_seeker", lambda data, **kw: calls.append(kw) or _Constant())
    run_roar(toy, dataclasses_replace(config, fractions=(0.0, 0.5, 0.25, 1.0)), tmp_path, progress=False)
    assert len(calls) == 2 * 3 * 2  # seeds x explainers x modes, for the new fraction only


class _Constant(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.zeros(x.shape[0], 2)


def dataclasses_replace(config, **changes):
    import dataclasses

    return dataclasses.replace(config, **changes)


def test_tabular_roar_runs_per_feature(tmp_path):
    data = load_bench_data("tabular")
    config = default_config("tabular", explainers=("feature-ablation", "random"), fractions=(0.5,), seeds=1)
    config = dataclasses_replace(config, seeker_epochs=8, modes=("roar",))
    results = run_roar(data, config, tmp_path, progress=False, benchmark="roar")
    assert results["modes"] == ["roar"] and "kar" not in results
    assert results["unmodified"]["mean"] > 0.85
    assert results["roar"]["feature-ablation"]["fractions"]["0.5"]["mean"] <= results["unmodified"]["mean"] + 0.05


def test_text_roar_hides_words_with_the_fill_token(tmp_path, monkeypatch):
    from hnsx.adapters.text import data as text_data
    from hnsx.benchmarks import removal

    original = text_data.generated_data
    monkeypatch.setattr(text_data, "generated_data", lambda n, m, **kw: original(160, 60, **kw))
    data = load_bench_data("text")
    assert data.test_rationale is not None and data.test_rationale.shape == (60, data.input_shape[1])
    seen = []
    remove = removal.remove_units
    monkeypatch.setattr(roar_seed, "remove_units", lambda d, x, keep: seen.append(remove(d, x, keep)) or seen[-1])
    config = RoarConfig(
        explainers=("saliency", "random"),
        fractions=(0.5,),
        modes=("roar",),
        seeds=1,
        seeker_epochs=1,
        explainer_options={},
    )
    results = run_roar(data, config, tmp_path, progress=False)
    assert set(results["roar"]) == {"saliency", "random"}
    x = data.train.tensors[0]
    modified = seen[0]
    hidden = modified[:, 0] != x[:, 0]
    assert bool((modified[:, 0][hidden] == data.adapter.fill_id).all())
    words = (x[:, 1] >= 0).sum(1)
    assert bool((hidden.sum(1) >= (words > 1).long()).all())  # at least one token hidden in multi-token sentences
    assert torch.equal(modified[:, 1], x[:, 1])  # word ids (units, padding) untouched


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "roar", "--seeds", "0"], "--seeds must be at least 1"),
        (["bench", "kar", "--explainers", "hns,nope"], "unknown image explainer(s) nope"),
        (["bench", "roar", "--modality", "text", "--explainers", "layer-gradcam"], "unknown text explainer"),
        (["bench", "roar", "--epochs", "0"], "--epochs must be at least 1"),
        (["bench", "speed", "--modality", "tabular"], "runs on images only"),
        (["bench", "roar", "--estimator", "reinforce"], "--estimator applies to the shortcut benchmark only"),
    ],
)
def test_bench_cli_rejects_bad_input_without_a_traceback(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results.json").exists()


def test_bench_cli_reports_a_missing_benchmark_module(tmp_path, capsys, monkeypatch):
    from hnsx.cli import bench as cli

    monkeypatch.setitem(cli.BENCH_MODULES, "shortcut", "no_such_benchmark")
    assert main(["bench", "shortcut", "--out", str(tmp_path)]) == 2
    assert "not available" in capsys.readouterr().err


def test_bench_cli_rejects_a_modality_the_benchmark_does_not_support(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(roar, "MODALITIES", ("image",))
    assert main(["bench", "roar", "--modality", "text", "--out", str(tmp_path)]) == 2
    assert "supports --modality image" in capsys.readouterr().err


def test_bench_cli_runs_roar_and_kar_with_their_options(tmp_path, monkeypatch):
    seen = {}

    def fake_run(data, config, out_dir, *, progress, benchmark, **kwargs):
        seen[benchmark] = config
        results = {
            "modes": list(config.modes),
            "seeds": list(range(config.seeds)),
            "explainers": list(config.explainers),
            "fractions": list(config.fractions),
            "unmodified": {"mean": 0.9, "std": 0.0},
        }
        for mode in config.modes:
            results[mode] = {
                n: {
                    "fractions": {f"{f:g}": {"mean": 0.5, "std": 0.0} for f in config.fractions},
                    "mean": {"mean": 0.5, "std": 0.0},
                }
                for n in config.explainers
            }
        return results

    monkeypatch.setattr(roar, "run_roar", fake_run)
    monkeypatch.setattr(roar, "load_bench_data", lambda modality, quick, seed: None)
    monkeypatch.setattr(roar, "subsample", lambda data, n_train, n_test: data)
    out = str(tmp_path)
    assert main(["bench", "roar", "--quick", "--seeds", "4", "--epochs", "3", "--no-progress", "--out", out]) == 0
    assert main(["bench", "kar", "--explainers", "hns,random", "--no-progress", "--out", out]) == 0
    assert seen["roar"].modes == ("roar", "kar") and seen["roar"].seeds == 4 and seen["roar"].seeker_epochs == 3
    assert seen["roar"].fractions == (0.1, 0.5, 0.9)
    assert seen["roar"].explainer_options == roar.QUICK_OPTIONS["image"]
    assert seen["kar"].modes == ("kar",) and seen["kar"].explainers == ("hns", "random")
    assert seen["kar"].fractions == (0.1, 0.3, 0.5, 0.7, 0.9) and seen["kar"].seeds == 5  # the full run's seeds
    assert seen["kar"].seeker_epochs == roar.FULL_BUDGETS["image"]["seeker_epochs"] == 3


#: The smallest valid PNG (1x1, grey).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c6360000000020001e221bc330000000049454e44ae426082"
)


def test_bench_all_writes_each_benchmark_into_its_folder_and_a_combined_report(tmp_path, monkeypatch):
    from hnsx.cli import bench as cli

    def fake_main(args):
        folder = tmp_path / "all" / args.benchmark
        folder.mkdir(parents=True)
        (folder / "report.md").write_text(f"# {args.benchmark} report\n\n## table\n\n| hns |\n\n![curve](curve.png)\n")
        for png in ("curve.png", "extra.png"):
            (folder / png).write_bytes(PNG)
        return 0

    monkeypatch.setattr(cli, "BENCH_ALL", ("roar", "shortcut"))
    monkeypatch.setitem(cli.BENCH_MODULES, "shortcut", "no_such_benchmark")
    monkeypatch.setattr(roar, "main", fake_main)
    assert main(["bench", "all", "--quick", "--out", str(tmp_path / "all")]) == 1  # shortcut is missing
    report = (tmp_path / "all" / "report.md").read_text()
    assert "| roar | done |" in report and "| shortcut | error:" in report
    assert "## roar report" in report and "### table" in report and "| hns |" in report
    assert "![curve](roar/curve.png)" in report  # image paths under OUT
    page = (tmp_path / "all" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "roar/extra.png" in page  # both images embedded once
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', page)) and "roar report</h2>" in page


def test_seeds_in_separate_processes_give_the_same_numbers(toy, tmp_path):
    config = RoarConfig(explainers=("random",), fractions=(0.5,), modes=("roar",), seeds=2, seeker_epochs=1)
    alone = run_roar(toy, config, tmp_path / "one", progress=False)
    parallel = run_roar(toy, config, tmp_path / "two", progress=False, jobs=2, threads=1)
    assert parallel["roar"] == alone["roar"] and parallel["unmodified"] == alone["unmodified"]
    with pytest.raises(ValueError, match="registry explainers only"):
        run_roar(toy, config, tmp_path / "x", progress=False, jobs=2, builders={"random": None})


def test_report_flags_cells_clearly_above_the_unmodified_accuracy():
    def cell(mean, std):
        return {"mean": mean, "std": std}

    results = {
        "fractions": [0.1, 0.5],
        "explainers": ["leaky", "noisy"],
        "unmodified": cell(0.90, 0.01),
        "kar": {
            "leaky": {"fractions": {"0.1": cell(0.99, 0.005), "0.5": cell(0.5, 0.0)}, "mean": cell(0.7, 0.0)},
            "noisy": {"fractions": {"0.1": cell(0.93, 0.03), "0.5": cell(0.9, 0.0)}, "mean": cell(0.9, 0.0)},
        },
    }
    table = roar.mode_table(results, "kar")
    assert "| leaky | 99.0 ± 0.5 † | 50.0 ± 0.0 |" in table
    assert "| noisy | 93.0 ± 3.0 | 90.0 ± 0.0 |" in table
