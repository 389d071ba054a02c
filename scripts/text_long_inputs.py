"""A trained text run on generated sentences moved past its max length (docs/text.md, "Long texts: windows").

    .venv/bin/python scripts/text_long_inputs.py --write-data runs/prefixed.csv
    .venv/bin/hnsx train --modality text --data-file runs/prefixed.csv --epochs 10 --max-length 32 --out runs/prefixed
    .venv/bin/python scripts/text_long_inputs.py runs/prefixed [--n 200]

``--write-data`` writes 4,000 sentences of the generated corpus (seed 0), each after 0-3 neutral phrases (the
corpus's closers), as a CSV for ``hnsx train --data-file``. With a run folder, the script takes 200 other generated
sentences (seed 10000) and explains each alone, after a long neutral filler that pushes it past the max length (in
windows, and truncated as before), and after a short filler that still fits. It prints accuracy, rationale precision
/ recall of the kept words against each sentence's known sentiment words, the kept fraction and the windows per
text.
"""

from __future__ import annotations

import argparse
import csv
import random
import warnings

import torch

from hnsx.adapters.text.corpus import CLASS_NAMES, CLOSERS, generate_corpus
from hnsx.adapters.text.rationale import explain_encoded
from hnsx.adapters.text.tokenize import encode_texts, find_tokenizer
from hnsx.adapters.text.windows import explain_texts
from hnsx.explain import load_trained

LONG_FILLER = " ".join(c for c in CLOSERS if c)  # neutral: no word of the corpus's closers is in the lexicon
SHORT_FILLER = "by the standards of the genre"


def score(model, tokenizer, sentences, prefix: str) -> str:
    texts = [f"{prefix} {s.text}" if prefix else s.text for s in sentences]
    shift = len(prefix) + 1 if prefix else 0
    explained = explain_texts(model, tokenizer, texts)
    hit = kept = wanted = 0
    for e, s in zip(explained, sentences):
        gold = [(a + shift, b + shift) for a, b in s.rationale]
        for (a, b), m in zip(e.spans, e.mask.tolist()):
            g = any(a < y and x < b for x, y in gold)
            hit, kept, wanted = hit + m * g, kept + m, wanted + g
    accuracy = sum(e.prediction == s.label for e, s in zip(explained, sentences)) / len(sentences)
    fraction = sum(float(e.mask.sum()) for e in explained) / sum(len(e.spans) for e in explained)
    windows = sum(e.windows for e in explained) / len(explained)
    fit = sum(len(tokenizer(t)["input_ids"]) <= model.adapter.max_length for t in texts)
    return (
        f"accuracy {accuracy:.3f}, rationale P {hit / max(kept, 1):.3f} R {hit / max(wanted, 1):.3f}, "
        f"kept {fraction:.3f}, windows per text {windows:.2f}, {fit}/{len(texts)} fit the max length"
    )


def write_data(path: str, n: int = 4000, seed: int = 0) -> None:
    rng = random.Random(seed)
    phrases = [c for c in CLOSERS if c]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for s in generate_corpus(n, seed=seed):
            prefix = " ".join(rng.sample(phrases, rng.randint(0, 3)))
            writer.writerow([f"{prefix} {s.text}".strip(), CLASS_NAMES[s.label]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", help="a run folder of hnsx train --modality text")
    parser.add_argument("--write-data", metavar="CSV", help="write the training data described above and stop")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="the run's --seed (its eval sentences)")
    args = parser.parse_args()
    if args.write_data:
        write_data(args.write_data)
        return
    if args.run is None:
        parser.error("give a run folder (or --write-data CSV)")
    torch.set_num_threads(1)
    model, tokenizer = load_trained(args.run), find_tokenizer(args.run)
    sentences = generate_corpus(args.n, seed=args.seed + 10_000)
    print(f"max length {model.adapter.max_length}; long filler {len(tokenizer(LONG_FILLER)['input_ids'])} tokens")
    print("sentence alone:", score(model, tokenizer, sentences, ""))
    print("after the long filler, in windows:", score(model, tokenizer, sentences, LONG_FILLER))
    print("after the short filler:", score(model, tokenizer, sentences, SHORT_FILLER))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cut = encode_texts(tokenizer, [f"{LONG_FILLER} {s.text}" for s in sentences], model.adapter.max_length)
    predicted = explain_encoded(model, cut.x).prediction
    labels = torch.tensor([s.label for s in sentences])
    print(
        f"after the long filler, truncated (before windows): accuracy {float((predicted == labels).float().mean()):.3f}"
    )


if __name__ == "__main__":
    main()
