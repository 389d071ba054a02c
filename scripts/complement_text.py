"""Complement control on the generated text corpus: ERASER comprehensiveness with and without ``--complement-weight``.

Per seed: one seeker pretrained on 1,500 generated sentences (5 epochs), then for each weight a copy trained jointly
with a target kept fraction of 0.3 (3 epochs, stochastic binarizer with st1), and its masks of the 300 eval sentences
scored under its own seeker: ERASER comprehensiveness of the mask as a set, AOPC comprehensiveness of the
keep-probability ranking (bins 1, 5, 10, 20, 50 %), sufficiency and the kept fraction. The settings of
``tests/test_complement.py``; the figures of ``docs/objectives.md``::

    .venv/bin/python scripts/complement_text.py --seeds 0 1 2 3 4 5 --weights 0 1 3
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from accelerate import Accelerator

from hnsx.adapters.text.data import generated_data
from hnsx.adapters.text.spec import text_spec
from hnsx.adapters.text.tokenize import fill_token_id
from hnsx.benchmarks.metrics import own_seeker_comprehensiveness
from hnsx.data import make_loaders
from hnsx.metrics import accuracy
from hnsx.spec import build_model
from hnsx.training import TrainConfig, fit
from hnsx.training.pretrain import train_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = generated_data(1500, 300, seed=0, max_length=24, vocab_size=600)
    tok = data.tokenizer
    x = data.eval.tensors[0]
    for seed in args.seeds:
        torch.manual_seed(seed)
        spec = text_spec(24, 2, vocab_size=len(tok), pad_id=tok.pad_token_id, fill_id=fill_token_id(tok),
                         binarizer="stochastic", estimator="st1")  # fmt: skip
        start = build_model(spec)
        train, evaluation = make_loaders(data, 32, seed=seed)
        start.seeker = train_classifier(start.seeker, train, 5, 1e-3, Accelerator(cpu=True), progress=False)
        print(f"seed {seed}: pretrained seeker accuracy {accuracy(start.seeker, evaluation):.3f}", flush=True)
        for weight in args.weights:
            t0 = time.perf_counter()
            model = copy.deepcopy(start)
            config = TrainConfig(epochs=args.epochs, target_kept=0.3, init="pretrained-seeker", pretrain_epochs=0,
                                 complement_weight=weight, seed=seed, progress=False, cpu=True)  # fmt: skip
            result = fit(model, train, evaluation, config)
            figures = " ".join(f"{k}={v:.4f}" for k, v in own_seeker_comprehensiveness(model, x).items())
            print(
                f"seed {seed} W={weight:g}: {figures} F={result.scores.fidelity:.3f} "
                f"accuracy={result.scores.accuracy:.3f} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
