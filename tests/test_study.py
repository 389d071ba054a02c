"""Multi-seed studies (hnsx.study): grids, Table 1 arithmetic, a tiny grid end to end, resume.

The tiny grid is the thresholding study (deterministic and ST1, both from scratch) x 2 seeds x 1 epoch on 600 of
scikit-learn's 8x8 digits (the ``--quick`` settings).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hnsx.cli import main
from hnsx.pipeline import run_training
from hnsx.spec import build_model
from hnsx.study import (
    RESULT_FILE,
    RunConfig,
    RunTask,
    baseline_accuracy,
    choose_stochastic,
    evaluator_accuracy,
    expand_studies,
    finished_runs,
    label_evaluator,
    load_study_data,
    quick_settings,
    run_key,
    run_spec,
    run_study,
    run_summary,
    study_configs,
    table1,
    table1_markdown,
    train_run,
)
from hnsx.training.checkpoint import write_json_atomic

TINY = quick_settings("digits")  # 1 epoch, 1 pretraining epoch, 600 training and 200 evaluation images
TINY_KEYS = {"det-scratch/seed-0", "det-scratch/seed-1", "st1-scratch/seed-0", "st1-scratch/seed-1"}


def _tiny(out: Path, **kwargs) -> dict:
    return run_study(["thresholding"], out, TINY, seeds=2, stochastic="st1", progress=False, **kwargs)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("study") / "tiny"
    _tiny(out)
    return out


# ------------------------------------------------------------------------------------------------ grids


def test_grids_follow_the_paper_and_share_run_keys() -> None:
    names = {s: [c.name for c in study_configs(s)] for s in expand_studies(["all"])}
    assert names["init"] == ["det-scratch", "det-pretrained-hider", "det-pretrained-seeker", "det-both"]
    assert names["estimators"] == [
        "st1-scratch",
        "st2-scratch",
        "sa0.5-scratch",
        "reinforce-scratch",
        "hard-concrete-scratch",  # issue 18: hard-concrete masks take part in the estimators study
    ]
    assert names["slope-rates"] == [f"sa{r}-scratch" for r in ("0.1", "0.5", "1", "10", "100")]
    assert names["thresholding"] == ["det-scratch", "st1-scratch"]
    # Thresholding adds no configuration to init + estimators; sa0.5 is shared by estimators and slope-rates.
    unique = {n for grid in names.values() for n in grid}
    assert len(unique) == 4 + 5 + 4
    sa = study_configs("slope-rates")[1]
    assert (sa.estimator, sa.rate, sa.binarizer) == ("sa", 0.5, "stochastic")
    assert run_key(sa, 3) == "sa0.5-scratch/seed-3"
    with pytest.raises(ValueError, match="unknown study"):
        expand_studies(["inits"])


def test_the_objectives_study_sets_each_objective_and_aims_the_targeted_ones_at_the_study_target() -> None:
    configs = study_configs("objectives")
    assert [c.name for c in configs] == [
        "objective-alpha",
        "objective-adaptive",
        "objective-target-kept",
        "objective-leak-free",
        "objective-complement",
        "objective-hard-concrete",
    ]
    assert "objectives" not in expand_studies(["all"]) and expand_studies(["objectives"]) == ["objectives"]
    by_name = {c.objective: c for c in configs}
    for target, expected in ((None, 0.1), (0.3, 0.3)):
        settings = replace(TINY, target_kept=target)
        train = {name: settings.train_config(config, seed=2) for name, config in by_name.items()}
        assert train["alpha"].target_kept is None and train["alpha"].alpha == settings.alpha
        assert train["adaptive"].target_kept is None and train["adaptive"].alpha == "adaptive"
        for name in ("target-kept", "leak-free", "complement", "hard-concrete"):
            assert train[name].target_kept == expected and train[name].seed == 2
        assert train["leak-free"].leak_free and not train["target-kept"].leak_free
        assert train["complement"].complement_weight > 0 and train["target-kept"].complement_weight == 0
    assert by_name["hard-concrete"].estimator == "hard-concrete"
    with pytest.raises(ValueError, match="unknown objective"):
        RunConfig("deterministic", objective="lasso")


def test_auto_stochastic_is_the_best_estimator_once_its_study_is_complete(tmp_path: Path) -> None:
    fii = {"st1": 0.5, "st2": 0.7, "sa": 0.6, "reinforce": 0.1, "hard-concrete": 0.65}
    for config in study_configs("estimators"):
        for seed in range(2):
            if config.estimator == "reinforce" and seed == 1:
                continue
            record = {"key": run_key(config, seed), "final": {"fii": fii[config.estimator] + 0.01 * seed}}
            write_json_atomic(tmp_path / "runs" / config.name / f"seed-{seed}" / RESULT_FILE, record)
    pick, reason = choose_stochastic(tmp_path, seeds=2)
    assert pick == "st1" and "not complete" in reason  # reinforce/seed-1 is missing: the paper's choice
    write_json_atomic(
        tmp_path / "runs" / "reinforce-scratch" / "seed-1" / RESULT_FILE,
        {"key": "reinforce-scratch/seed-1", "final": {"fii": 0.2}},
    )
    pick, reason = choose_stochastic(tmp_path, seeds=2)
    assert pick == "st2" and "st2 0.705" in reason


# ------------------------------------------------------------------------------------------------ Table 1


def _record(config: str, seed: int, fi: list[tuple[float, float]], evaluator: float | None = None) -> dict:
    history = [
        {"epoch": e, "F": f, "I": i, "FIR": f / (f + i), "FII": f * i, "alpha": 0.5}
        for e, (f, i) in enumerate(fi, start=1)
    ]
    final = {} if evaluator is None else {"evaluator_accuracy": evaluator}
    return {
        "key": f"{config}/seed-{seed}",
        "config": config,
        "seed": seed,
        "history": history,
        "seconds": 1.0,
        "final": final,
    }


def test_table1_follows_its_written_rules() -> None:
    """Five hand-made runs whose Table 1 is worked out by hand."""
    records = [
        _record("c", 0, [(0.5, 0.5), (0.92, 0.91), (0.95, 0.93)], 0.4),  # converges at epoch 2
        _record("c", 1, [(0.95, 0.95), (0.96, 0.97), (0.97, 0.96)], 0.6),  # converges at epoch 1
        _record("c", 2, [(0.9, 0.3), (0.8, 0.6), (0.85, 0.7)]),  # never converges; no evaluator figure
        _record("c", 3, [(0.95, 0.95), (0.9, 0.1), (0.9, 0.05)], 0.9),  # I collapse (converged at 1: not counted)
        _record("c", 4, [(0.5, 0.5), (0.1, 0.99), (0.1, 0.1)], 0.1),  # both collapses: once in the total
    ]
    t = table1(records)
    assert t["runs"] == 5
    assert (t["collapsed_fidelity"], t["collapsed_interpretability"], t["collapsed"]) == (1, 2, 2)
    assert t["mean_F"] == pytest.approx((0.95 + 0.97 + 0.85) / 3)
    assert t["peak_F"] == pytest.approx(0.97)
    assert t["mean_I"] == pytest.approx((0.93 + 0.96 + 0.7) / 3)
    assert t["peak_I"] == pytest.approx(0.96)
    assert t["std_F"] == pytest.approx(
        math.sqrt(((0.95 - 0.9233333) ** 2 + (0.97 - 0.9233333) ** 2 + 0.0733333**2) / 2)
    )
    assert t["mean_FII"] == pytest.approx((0.95 * 0.93 + 0.97 * 0.96 + 0.85 * 0.7) / 3)
    assert t["peak_FII"] == pytest.approx(0.97 * 0.96)
    assert t["mean_FIR"] == pytest.approx((0.95 / 1.88 + 0.97 / 1.93 + 0.85 / 1.55) / 3)
    assert t["converged"] == 2
    assert t["mean_convergence_epochs"] == pytest.approx(1.5)
    assert t["fastest_convergence_epochs"] == 1
    assert t["mean_E"] == pytest.approx(0.5)  # runs 0 and 1: not collapsed and with an evaluator figure
    assert t["std_E"] == pytest.approx(math.sqrt(0.02))
    text = table1_markdown([("c", records)], seeds=6)
    assert "| mean evaluator accuracy E ¹ ³ | 0.500 |" in text
    assert "| runs finished | 5/6 |" in text
    assert "| #runs collapsed (total) | 2 |" in text
    assert "| mean convergence (epochs) ² | 1.5 |" in text


# ------------------------------------------------------------------------------------------------ runs


def _mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob(f"runs/*/seed-*/{RESULT_FILE}")}


def test_tiny_grid_writes_results_report_and_figures_with_matching_counts(tiny_study: Path) -> None:
    results = json.loads((tiny_study / "results.json").read_text())
    assert {r["key"] for r in results["runs"]} == TINY_KEYS
    for run in results["runs"]:
        assert [h["epoch"] for h in run["history"]] == [1]
        for h in run["history"]:
            assert set(h) >= {"F", "I", "FIR", "FII", "alpha"}
            assert h["FII"] == pytest.approx(h["F"] * h["I"])
            assert h["alpha"] == 0.5
        assert run["final"]["fidelity"] == pytest.approx(run["history"][-1]["F"])
    # Every run of a seed divides by the same baseline accuracy.
    by_seed = {}
    for run in results["runs"]:
        by_seed.setdefault(run["seed"], set()).add(run["baseline_accuracy"])
    assert all(len(v) == 1 for v in by_seed.values())

    report = (tiny_study / "report.md").read_text()
    assert report.count("| runs finished | 2/2 | 2/2 |") == 1
    for config in ("det-scratch", "st1-scratch"):
        summaries = [run_summary(r) for r in results["runs"] if r["config"] == config]
        assert len(summaries) == 2
    det = [run_summary(r) for r in results["runs"] if r["config"] == "det-scratch"]
    st1 = [run_summary(r) for r in results["runs"] if r["config"] == "st1-scratch"]
    for label, key in (("(F < 0.2)", "collapsed_fidelity"), ("(I < 0.2)", "collapsed_interpretability")):
        expected = f"| #runs collapsed {label} | {sum(s[key] for s in det)} | {sum(s[key] for s in st1)} |"
        assert expected in report
    total = f"| #runs collapsed (total) | {sum(s['collapsed'] for s in det)} | {sum(s['collapsed'] for s in st1)} |"
    assert total in report
    assert "label-encoding" in report.lower()
    # The label-encoding evaluator: one per seed, trained once, scoring every run's masked evaluation images.
    assert sorted(p.name for p in (tiny_study / "baselines").glob("evaluator-*")) == [
        "evaluator-seed-0.safetensors",
        "evaluator-seed-1.safetensors",
    ]
    for run in results["runs"]:
        assert 0.0 <= run["final"]["evaluator_accuracy"] <= 1.0
    mean_e = [
        table1([r for r in results["runs"] if r["config"] == c])["mean_E"] for c in ("det-scratch", "st1-scratch")
    ]
    assert "| mean evaluator accuracy E ¹ ³ | " + " | ".join(_fmt_e(v) for v in mean_e) + " |" in report
    assert "constant 0.5" in report
    # The runs table lists each run once; Table 2 has one row per configuration.
    assert sum(line.startswith("| deterministic | ") for line in report.splitlines()) == 2 + 1
    for name in ("curves", "scatter", "fir"):
        png = tiny_study / f"thresholding-{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(thresholding-{name}.png)" in report


def _fmt_e(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def test_evaluator_accuracy_scores_the_evaluator_on_the_models_masked_inputs(tmp_path: Path) -> None:
    """All pixels kept: the evaluator's plain accuracy; none kept: every input is the fill, so one class wins."""
    data = load_study_data(TINY)
    evaluator = label_evaluator(TINY, 0, tmp_path)
    model = build_model(run_spec(TINY, RunConfig("deterministic"), data))
    inputs, labels = data.eval.tensors
    with torch.inference_mode():
        plain = float((evaluator(inputs).argmax(1) == labels).float().mean())
        blank = evaluator(torch.zeros_like(inputs[:1])).argmax(1)  # the study's fill is 0
    fine = model.hider.fine
    with torch.no_grad():
        fine.weight.zero_()
        fine.bias.fill_(10.0)  # keep every pixel
        for head in model.hider.heads:
            head.weight.zero_()
    assert evaluator_accuracy(evaluator, model, data.eval) == pytest.approx(plain)
    with torch.no_grad():
        fine.bias.fill_(-10.0)  # hide every pixel
    assert evaluator_accuracy(evaluator, model, data.eval) == pytest.approx(float((labels == blank).float().mean()))


def test_interrupted_study_resumes_without_redoing_finished_runs(tmp_path: Path) -> None:
    out = tmp_path / "study"
    calls: list[str] = []

    def interrupted(task: RunTask) -> dict:
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed before the third run finished
        calls.append(task.key)
        return train_run(task)

    with pytest.raises(KeyboardInterrupt):
        _tiny(out, runner=interrupted)
    assert len(calls) == 2
    assert set(finished_runs(out)) == set(calls)
    partial = json.loads((out / "results.json").read_text())
    assert {r["key"] for r in partial["runs"]} == set(calls)  # each run saved as it ended
    before = _mtimes(out)
    assert len(before) == 2

    resumed: list[str] = []

    def counting(task: RunTask) -> dict:
        resumed.append(task.key)
        return train_run(task)

    results = _tiny(out, runner=counting)
    assert sorted(resumed) == sorted(TINY_KEYS - set(calls))
    after = _mtimes(out)
    assert {k: after[k] for k in before} == before  # finished runs untouched
    assert {r["key"] for r in results["runs"]} == TINY_KEYS
    assert "| runs finished | 2/2 | 2/2 |" in (out / "report.md").read_text()

    again: list[str] = []
    _tiny(out, runner=lambda task: again.append(task.key) or train_run(task))
    assert again == []


def test_configs_runs_only_the_named_configurations(tmp_path: Path) -> None:
    ran: list[str] = []
    counting = lambda task: ran.append(task.key) or train_run(task)  # noqa: E731
    results = _tiny(tmp_path / "only", runner=counting, configs=["det-scratch"])
    assert sorted(ran) == ["det-scratch/seed-0", "det-scratch/seed-1"]
    assert {r["config"] for r in results["runs"]} == {"det-scratch"}
    with pytest.raises(ValueError, match="no configuration 'objective-nope'.*det-scratch"):
        _tiny(tmp_path / "bad", configs=["objective-nope"])


def test_unfinished_run_continues_from_its_checkpoint(tmp_path: Path) -> None:
    """A run killed after epoch 1 of 2 (checkpoint, no result.json) continues at epoch 2."""
    settings = replace(TINY, epochs=2).resolved()
    out = tmp_path / "study"
    config = RunConfig("deterministic")
    run_dir = out / "runs" / config.name / "seed-0"
    data = load_study_data(settings)
    baseline = baseline_accuracy(settings, 0, out / "baselines")
    killed = replace(settings.train_config(config, 0), epochs=1)
    run_training(data, run_spec(settings, config, data), killed, run_dir, baseline_accuracy=baseline)
    first = (run_dir / "history.jsonl").read_text().splitlines()
    assert len(first) == 1

    results = run_study(["thresholding"], out, settings, seeds=1, stochastic="st1", progress=False)
    record = next(r for r in results["runs"] if r["key"] == "det-scratch/seed-0")
    assert record["resumed"] is True
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    assert lines[0] == first[0] and len(lines) == 2
    assert next(r for r in results["runs"] if r["key"] == "st1-scratch/seed-0")["resumed"] is False


def test_study_baseline_is_the_one_fit_trains(tmp_path: Path) -> None:
    settings = TINY.resolved()
    data = load_study_data(settings)
    config = RunConfig("deterministic")
    result = run_training(data, run_spec(settings, config, data), settings.train_config(config, 1), tmp_path / "run")
    assert baseline_accuracy(settings, 1, tmp_path / "baselines") == result.fit.baseline_accuracy


def test_other_settings_in_the_same_folder_are_refused(tiny_study: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_study, copy)
    with pytest.raises(ValueError, match="epochs: 1 -> 2"):
        run_study(["thresholding"], copy, replace(TINY, epochs=2), seeds=2, stochastic="st1", progress=False)


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_study_quick_in_two_processes_matches_the_serial_runs(
    tiny_study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hnsx study --quick --jobs 2``: runs in spawned worker processes give the runs of this process."""
    out = tmp_path / "cli"
    args = ["study", "thresholding", "--dataset", "digits", "--quick", "--seeds", "1", "--stochastic", "st1"]
    code = main([*args, "--jobs", "2", "--threads", "1", "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert "2 finished runs" in capsys.readouterr().out
    study = json.loads((out / "study.json").read_text())
    assert study["settings"] == json.loads((tiny_study / "study.json").read_text())["settings"]
    serial = finished_runs(tiny_study)
    parallel = finished_runs(out)
    assert set(parallel) == {"det-scratch/seed-0", "st1-scratch/seed-0"}
    for key, run in parallel.items():
        assert run["baseline_accuracy"] == serial[key]["baseline_accuracy"]
        assert [(h["F"], h["I"]) for h in run["history"]] == [(h["F"], h["I"]) for h in serial[key]["history"]]
    assert (out / "report.md").is_file()


@pytest.mark.parametrize("option", [["--seeds", "0"], ["--jobs", "0"], ["--epochs", "0"], ["--dataset", "nope"]])
def test_cli_study_bad_input_is_one_line(option: list[str], tmp_path: Path, capsys) -> None:
    code = main(["study", "init", "--quick", *option, "--out", str(tmp_path / "x"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hnsx study: error: "), err


def test_cli_study_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["study", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("init", "estimators", "slope-rates", "thresholding", "all", "--seeds", "--epochs", "--quick"):
        assert option in out, option
    for option in ("--out", "--jobs", "--alpha", "--stochastic", "--dataset"):
        assert option in out, option


def test_a_text_study_reads_its_data_and_builds_its_models_with_the_text_options_at_their_defaults() -> None:
    settings = quick_settings("sentiment-generated", modality="text", train_limit=100, eval_limit=50)
    data = load_study_data(settings)
    assert (len(data.train), len(data.eval)) == (100, 50)
    spec = run_spec(settings, study_configs("objectives")[-1], data)  # hard concrete: a stochastic binarizer
    assert (spec.hider.name, spec.seeker.name) == ("token-masker", "tiny-bert")
    assert spec.binarizer.kwargs["estimator"] == "hard-concrete"
    model = build_model(spec)
    x = data.eval.tensors[0][:4]
    assert model(x).logits.shape == (4, data.num_classes)
