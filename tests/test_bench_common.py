"""The shared benchmark foundation: text and tabular explainers, unit ranking and removal, the output helpers.

Explainer tests are parametrised over the registry's text and tabular entries; the maths is checked against known
answers: Integrated Gradients is complete (its unit scores sum to ``f(x) - f(baseline)``), and feature ablation
of a linear model is ``w_f (x_f - fill_f)``.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from hnsx.adapters.image.bench import image_bench_data
from hnsx.benchmarks.common import (
    BenchData,
    build_explainers,
    explainer_names,
    load_bench_data,
    new_seeker,
    train_seeker,
)
from hnsx.benchmarks.explainers import EXPLAINERS, unit_sum
from hnsx.benchmarks.ranking import order_ranks, rank_order, top_units
from hnsx.benchmarks.removal import flatten_units, remove_units
from hnsx.benchmarks.results import (
    aggregate,
    markdown_table,
    mean_std,
    write_outputs,
)
from hnsx.spec import build_model


def hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in module.modules())


@pytest.fixture(scope="module")
def text_data(tmp_path_factory) -> BenchData:
    import hnsx.adapters.text.data as text_module

    original = text_module.generated_data
    text_module.generated_data = lambda n, m, **kw: original(40, 16, **kw)
    try:
        return load_bench_data("text")
    finally:
        text_module.generated_data = original


@pytest.fixture(scope="module")
def tabular_data() -> BenchData:
    return load_bench_data("tabular")


def models(data: BenchData):
    torch.manual_seed(0)
    return new_seeker(data, seed=0).eval(), build_model(data.spec).eval()


def test_explainer_names_are_plain_per_modality():
    assert explainer_names("text", defaults_only=True) == ["hns", "integrated-gradients", "random", "saliency"]
    assert explainer_names("tabular", defaults_only=True) == [
        "feature-ablation",
        "hns",
        "integrated-gradients",
        "random",
    ]
    # the extra Captum methods run when named, never by default
    assert {"lime", "kernel-shap"} <= set(explainer_names("text")) - set(explainer_names("text", defaults_only=True))
    extra = {"deeplift", "gradient-shap", "lime", "kernel-shap"}
    assert extra <= set(explainer_names("tabular")) - set(explainer_names("tabular", defaults_only=True))
    assert extra <= set(explainer_names("image")) - set(explainer_names("image", defaults_only=True))
    assert {"smoothgrad-sq", "vargrad", "layer-gradcam"} <= set(explainer_names("image"))
    assert all(EXPLAINERS.modality(n) == "text" for n in EXPLAINERS.names("text"))


@pytest.mark.parametrize("name", explainer_names("text"))
def test_text_explainers_score_each_word_slot(name, text_data):
    seeker, hns = models(text_data)
    x, y = (t[:6] for t in text_data.test.tensors)
    explainer = build_explainers(text_data, seeker, hns, [name], options={"integrated-gradients": {"n_steps": 8}})
    scores = explainer[name].attribute(x, y)
    assert scores.shape == (6, x.shape[2])
    assert torch.isfinite(scores).all()
    valid = text_data.adapter.valid_units(x).bool()
    if name in ("integrated-gradients", "saliency"):
        assert bool((scores[~valid] == 0).all())  # slots without a word score nothing
        assert float(scores[valid].abs().sum()) > 0
    flat, flat_valid = flatten_units(text_data, x, scores)
    assert torch.equal(flat_valid, valid)
    assert hook_count(seeker) == 0 and hook_count(hns) == 0


def test_unit_sum_adds_the_pieces_of_a_word():
    units = torch.tensor([[-1, 0, 0, 1, 2, 2, 2, -1, -1]])
    values = torch.tensor([[9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 9.0, 9.0]])
    assert torch.equal(unit_sum(values, units), torch.tensor([[3.0, 3.0, 15.0, 0, 0, 0, 0, 0, 0]]))


def test_text_integrated_gradients_is_complete_over_word_units(text_data):
    from hnsx.benchmarks.explainers import fill_baseline

    seeker, _ = models(text_data)
    x, y = (t[:4] for t in text_data.test.tensors)
    explainer = build_explainers(
        text_data, seeker, names=["integrated-gradients"], options={"integrated-gradients": {"n_steps": 64}}
    )["integrated-gradients"]
    scores = explainer.attribute(x, y)
    with torch.no_grad():
        gap = seeker(x).gather(1, y[:, None]) - seeker(fill_baseline(x, text_data.adapter)).gather(1, y[:, None])
    assert torch.allclose(scores.sum(1), gap.squeeze(1), atol=2e-3, rtol=2e-2)


@pytest.mark.parametrize("name", explainer_names("tabular"))
def test_tabular_explainers_score_each_feature(name, tabular_data):
    seeker, hns = models(tabular_data)
    x, y = (t[:8] for t in tabular_data.test.tensors)
    scores = build_explainers(tabular_data, seeker, hns, [name])[name].attribute(x, y)
    assert scores.shape == (8, 30)
    assert torch.isfinite(scores).all()
    assert hook_count(seeker) == 0 and hook_count(hns) == 0


def test_tabular_attributions_match_a_linear_model(tabular_data):
    torch.manual_seed(0)
    linear = nn.Linear(30, 2)
    x, y = (t[:5] for t in tabular_data.test.tensors)
    fill = tabular_data.adapter.fill
    exact = ["feature-ablation", "integrated-gradients", "deeplift", "gradient-shap", "kernel-shap"]
    built = build_explainers(tabular_data, linear, names=[*exact, "lime"], options={"kernel-shap": {"n_samples": 400}})
    expected = (linear.weight[y] * (x - fill)).detach()
    for name in exact:  # each is exact on a linear model (KernelSHAP's weighted regression fits it exactly)
        assert torch.allclose(built[name].attribute(x, y), expected, atol=1e-3), name
    # LIME's ridge shrinks the coefficients, but keeps their order: its top features are the linear model's
    lime = built["lime"].attribute(x, y)
    for i in range(x.shape[0]):
        assert set(lime[i].abs().topk(3).indices.tolist()) == set(expected[i].abs().topk(3).indices.tolist())


def test_top_units_takes_the_best_valid_units_and_breaks_ties_at_random():
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.95, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    valid = torch.tensor([[True, True, True, False, True, True], [True] * 6])
    top = top_units(scores, valid, 0.4)  # round(0.4 * 5) = 2 and round(0.4 * 6) = 2
    assert top[0].tolist() == [True, False, True, False, False, False]  # the invalid 0.95 is never taken
    assert int(top[1].sum()) == 2
    ties = [tuple(top_units(scores[1:], valid[1:], 0.5, seed=s)[0].nonzero().flatten().tolist()) for s in range(8)]
    assert len(set(ties)) > 1  # not always the first pixels
    order = rank_order(scores, valid)
    assert order[0, -1] == 3  # invalid units come last
    ranks = order_ranks(order)
    for i in range(order.shape[0]):
        assert all(int(ranks[i, int(order[i, j])]) == j for j in range(order.shape[1]))  # the inverse permutation
    assert ranks[0, [0, 2, 1, 3]].tolist() == [0, 1, 2, 5]


def test_remove_units_fills_as_the_adapter_does(tabular_data, text_data):
    images = torch.rand(4, 1, 5, 5)
    data = image_bench_data("noise", torch.utils.data.TensorDataset(images, torch.zeros(4).long()), None, 2)
    keep = torch.rand(4, 25) > 0.5
    removed = remove_units(data, images, keep)
    assert torch.equal(removed, data.adapter.apply_mask(images, keep.view(4, 1, 5, 5).float()))
    assert torch.allclose(removed.flatten(1)[~keep], torch.tensor(images.mean().item()))

    rows = tabular_data.test.tensors[0][:3]
    hidden = remove_units(tabular_data, rows, torch.zeros(3, 30, dtype=torch.bool))
    assert torch.equal(hidden, tabular_data.adapter.fill.expand(3, 30))

    x = text_data.test.tensors[0][:3]
    out = remove_units(text_data, x, torch.zeros(3, x.shape[2], dtype=torch.bool))
    words = x[:, 1] >= 0
    assert bool((out[:, 0][words] == text_data.adapter.fill_id).all())
    assert torch.equal(out[:, 0][~words], x[:, 0][~words])  # special tokens and padding stay


def test_train_seeker_is_reproducible_per_seed(tabular_data):
    a = train_seeker(tabular_data, seed=3, epochs=2)
    b = train_seeker(tabular_data, seed=3, epochs=2)
    c = train_seeker(tabular_data, seed=4, epochs=2)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_build_explainers_needs_the_hns_model_for_hns(tabular_data):
    seeker, _ = models(tabular_data)
    with pytest.raises(ValueError, match="needs a trained Hide-and-Seek model"):
        build_explainers(tabular_data, seeker, None, ["hns"])
    with pytest.raises(ValueError, match="unknown tabular explainer"):
        build_explainers(tabular_data, seeker, None, ["layer-gradcam"])


def test_mean_std_table_and_outputs(tmp_path):
    stats = mean_std([0.5, 0.7, 0.9])
    assert stats["mean"] == pytest.approx(0.7) and stats["std"] == pytest.approx(0.2) and len(stats["values"]) == 3
    assert mean_std([0.4])["std"] == 0.0
    table = markdown_table(["a", "b"], [["x", 1]])
    assert table.splitlines() == ["| a | b |", "|:---|---:|", "| x | 1 |"]
    with pytest.raises(ValueError, match="lack"):
        write_outputs(tmp_path, {"benchmark": "x"}, "# r")
    results = {"benchmark": "x", "modality": "image", "config": {}, "seeds": [0], "explainers": ["random"]}
    write_outputs(tmp_path, results, "# report")
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert (tmp_path / "report.md").read_text() == "# report\n"


def test_aggregate_keeps_nesting_and_averages_lists_elementwise():
    per_seed = [{"a": 1.0, "curve": [0.0, 1.0], "m": {"x": 2.0}}, {"a": 3.0, "curve": [1.0, 3.0], "m": {"x": 4.0}}]
    out = aggregate(per_seed)
    assert out["a"]["mean"] == 2.0 and out["a"]["values"] == [1.0, 3.0]
    assert [c["mean"] for c in out["curve"]] == [0.5, 2.0]
    assert out["curve"][1]["std"] == pytest.approx(2**0.5)
    assert out["m"]["x"]["mean"] == 3.0
