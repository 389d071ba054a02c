"""Confusable pairs (MNIST 4/9, 3/5, 7/1; Fashion-MNIST T-shirt/shirt 0/6, pullover/coat 2/4, trouser/coat 1/4):
which explainer finds what separates class ``a`` from class ``b``?

``python -m hnsx.benchmarks.contrastive_pairs --seeds 3 --out runs/pairs`` (``--quick``: the smaller data;
``--dataset fashion-mnist --data-dir DIR``: Fashion-MNIST from a local copy in torchvision's layout). Per seed,
on the embedded MNIST digits of the image benchmark hooks (or ``--dataset``): the benchmark classifier
(:func:`~hnsx.benchmarks.common.train_seeker`), a VAE of the training images, and one contrastive Hide-and-Seek
hider for every pair (:mod:`hnsx.benchmarks.contrastive`). For each pair ``(a, b)``, the test images of class ``a``
that the classifier gets right (at most ``--rows``) are explained as "why ``a`` and not ``b``?" by

* ``cdeepex`` (probe ``b``, through the VAE) and ``contrastive-hns`` (probe ``b``);
* the thesis's baselines, the difference of two single-class maps: ``gradcam-diff`` (Grad-CAM of ``a`` minus
  Grad-CAM of ``b``) and ``ig-diff`` (Integrated Gradients, 16 steps). The thesis weighted the probe map by 0.005
  to 2 and averaged the weights that moved the classifier the right way; hnsx takes the plain difference;
* ``random``.

Score, *contrastive deletion*: hide (fill 0) the ``fraction`` of pixels each map ranks highest and measure how much
the classifier's margin ``s_a - s_b`` falls (``drop``, logits) and the share of rows whose answer flips to ``b``
(``flip``). Higher is better: the map found the evidence that separates the pair. ``cdeepex`` also reports the
share of rows whose counterfactual reached the boundary with ``a`` and ``b`` the two most likely classes
(``boundary``); ``contrastive-hns`` its kept fraction (``kept``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from hnsx.adapters.image.contrastive.cdeepex import CDeepExConfig
from hnsx.adapters.image.contrastive.regions import window_scores
from hnsx.adapters.image.contrastive.vae import GeneratorConfig, train_vae
from hnsx.benchmarks.common import train_seeker
from hnsx.benchmarks.contrastive import contrastive_hns_explainer
from hnsx.benchmarks.explainers import CDeepExExplainer, Explainer, build_explainer
from hnsx.benchmarks.hooks import hooks
from hnsx.benchmarks.ranking import rank_order
from hnsx.benchmarks.results import format_mean_std, mean_std
from hnsx.training.checkpoint import write_json_atomic

PAIRS = ((4, 9), (3, 5), (7, 1))
#: The pairs of the data sets whose classes are not digits: Fashion-MNIST's T-shirt/shirt and trouser/coat (the
#: thesis's Fig. 3.8) and pullover/coat.
DATASET_PAIRS = {"fashion-mnist": ((0, 6), (2, 4), (1, 4))}
FRACTIONS = (0.05, 0.1, 0.2)


def margin(model: nn.Module, x: torch.Tensor, a: int, b: int) -> torch.Tensor:
    with torch.no_grad():
        logits = model(x)
    return logits[:, a] - logits[:, b]


def deletion(model: nn.Module, adapter, x: torch.Tensor, scores: torch.Tensor, a: int, b: int, fraction: float):
    """Margin drop and flip rate after hiding the top ``fraction`` of pixels of ``scores (N, 1, H, W)``."""
    flat = scores.flatten(1).float()
    order = rank_order(flat, torch.ones_like(flat, dtype=torch.bool))
    count = max(1, round(fraction * flat.shape[1]))
    keep = torch.ones_like(flat)
    keep.scatter_(1, order[:, :count], 0.0)
    masked = adapter.apply_mask(x, keep.view_as(scores))
    before, after = margin(model, x, a, b), margin(model, masked, a, b)
    return float((before - after).mean()), float((after < 0).float().mean())


def pair_maps(explainers: dict[str, Explainer], x: torch.Tensor, a: int, b: int) -> dict[str, torch.Tensor]:
    target, probe = torch.full((len(x),), a), torch.full((len(x),), b)
    maps = {}
    for name, explainer in explainers.items():
        if isinstance(explainer, CDeepExExplainer):
            explanation = explainer.explain(x, target, probe)
            maps[name] = window_scores(explanation.difference, explainer.windows)
            maps["counterfactual"] = explanation.counterfactual
        elif name.endswith("-diff"):
            maps[name] = (explainer.attribute(x, target) - explainer.attribute(x, probe)).detach()
        else:
            explainer.contrast = b
            maps[name] = explainer.attribute(x, target).detach()
    return maps


def pairs_of(dataset: str | None) -> tuple[tuple[int, int], ...]:
    """The class pairs benchmarked on ``dataset`` (``None``: the embedded MNIST digits)."""
    return DATASET_PAIRS.get(dataset or "", PAIRS)


def run_seed(
    seed: int, *, quick: bool, rows: int, dataset: str | None = None, data_dir: str | None = None
) -> tuple[dict, float]:
    """The scores of every pair (``{"a/b": {"rows": n, "scores": {explainer: {metric: value}}}}``) and the
    classifier's test accuracy."""
    torch.manual_seed(seed)
    data = hooks("image").load_bench_data(quick=quick, seed=seed, name=dataset, data_dir=data_dir)
    seeker = train_seeker(data, seed=seed).eval()
    vae = train_vae(data.train, GeneratorConfig(epochs=4 if quick else 10, seed=seed))[0]
    explainers: dict[str, Explainer] = {
        "cdeepex": CDeepExExplainer(seeker, generator=vae, config=CDeepExConfig()),
        "contrastive-hns": contrastive_hns_explainer(data, seeker, seed=seed, quick=quick),
        "gradcam-diff": build_explainer("layer-gradcam", seeker),
        "ig-diff": build_explainer("integrated-gradients", seeker, n_steps=16),
        "random": build_explainer("random", seeker, seed=seed),
    }
    x_all, y_all = data.test.tensors
    with torch.no_grad():
        predicted = seeker(x_all).argmax(1)
    out = {}
    for a, b in pairs_of(dataset):
        x = x_all[(y_all == a) & (predicted == a)][:rows]
        if not len(x):
            raise ValueError(f"seed {seed}: the classifier gets no test image of class {a} right; nothing to explain")
        maps = pair_maps(explainers, x, a, b)
        counterfactual = maps.pop("counterfactual")
        scores = {
            name: {f"{kind}@{f}": value for f in FRACTIONS for kind, value in
                   zip(("drop", "flip"), deletion(seeker, data.adapter, x, m, a, b, f))}
            for name, m in maps.items()
        }  # fmt: skip
        with torch.no_grad():
            top2 = seeker(counterfactual).topk(2, dim=1).indices.sort(1).values
        scores["cdeepex"]["boundary"] = float((top2 == torch.tensor(sorted((a, b)))).all(1).float().mean())
        chns = explainers["contrastive-hns"]
        with torch.no_grad():
            kept = chns.model.keep_probability(x, torch.full((len(x),), a), torch.full((len(x),), b)) >= 0.5
        scores["contrastive-hns"]["kept"] = float(kept.float().mean())
        out[f"{a}/{b}"] = {"rows": len(x), "scores": scores}
    return out, float((predicted == y_all).float().mean())


def summarise(per_seed: list[dict]) -> dict:
    summary = {}
    for pair in per_seed[0]:
        summary[pair] = {}
        for name, metrics in per_seed[0][pair]["scores"].items():
            summary[pair][name] = {}
            for key in metrics:
                summary[pair][name][key] = mean_std([run[pair]["scores"][name][key] for run in per_seed])
    return summary


def report(summary: dict, seeds: int, dataset: str = "MNIST") -> str:
    lines = [f"Contrastive deletion on {dataset} pairs, mean ± std over {seeds} seed(s) (higher is better)", ""]
    keys = [f"drop@{f}" for f in FRACTIONS] + ["flip@0.1"]
    lines.append("| pair | explainer | " + " | ".join(keys) + " | other |")
    lines.append("|---" * (len(keys) + 3) + "|")
    for pair, explainers in summary.items():
        for name, metrics in explainers.items():
            cells = [format_mean_std(metrics[k]) for k in keys]
            other = ", ".join(f"{k} {format_mean_std(v)}" for k, v in metrics.items() if k in ("boundary", "kept"))
            lines.append(f"| {pair} | {name} | " + " | ".join(cells) + f" | {other} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hnsx.benchmarks.contrastive_pairs", description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=64, help="test images per pair (default %(default)s)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dataset", default=None, help="an image data set name (default: mnist-embedded)")
    parser.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.rows < 1:
        raise SystemExit("--seeds and --rows must be at least 1")
    torch.set_num_threads(args.threads)
    run = {"quick": args.quick, "rows": args.rows, "dataset": args.dataset, "data_dir": args.data_dir}
    per_seed, accuracy = zip(*(run_seed(seed, **run) for seed in range(args.seeds)))
    summary = summarise(list(per_seed))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"per_seed": per_seed, "accuracy": accuracy, "summary": summary}
    write_json_atomic(out / "results.json", results)
    text = report(summary, args.seeds, args.dataset or "MNIST")
    text += f"\n\nclassifier test accuracy: {format_mean_std(mean_std(list(accuracy)))}"
    (out / "report.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
