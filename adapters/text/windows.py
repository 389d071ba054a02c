"""Long texts explained in overlapping windows of whole words, their masks stitched back into one mask per text.

A text model reads ``max_length`` tokens (special tokens included). :func:`explain_texts` explains a longer text
whole instead of cutting it there:

* **Windows.** The tokenizer's own overflow cuts the text's tokens into rows of ``max_length``
  (``return_overflowing_tokens=True``); consecutive rows share ``stride`` tokens (the tokenizer's ``stride``:
  the overlap, default :func:`default_stride`, half the tokens a window holds). A word that a row's edge cuts in
  two is blanked in that row (its pieces become padding: not attended, not a mask unit, not counted), so a window
  holds whole words only; the next row starts ``stride`` tokens before this one ends, so it holds the word whole
  when the word has at most ``stride + 1`` tokens. A word that no window holds whole is refused (``ValueError``:
  raise the stride). A text that fits ``max_length`` is one window, encoded exactly as
  :func:`~hnsx.adapters.text.tokenize.encode_texts` encodes it, so its explanation is the same as before.
* **One mask value per word.** The hider runs on every window; each word (or token, with ``word_level=False``)
  takes the mask and keep probability of the window where it is most central: where ``min(tokens before it,
  tokens after it)`` within the window's words is largest (the "maximum context" rule of BERT's document spans),
  ties going to the earlier window. A word's mask is thus one decision of one window, consistent with its keep
  probability; :func:`stitch` applies the rule, ``TextExplanation.window`` says which window decided.
* **Prediction.** The seeker classifies each window's kept words; the text's class logits are the mean of its
  windows' logits, the prediction their argmax and the confidence the softmax of that mean. Evidence that only
  one window holds is thus outvoted by the windows without it (each window's logits stay in
  ``TextExplanation.window_logits``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from hnsx.adapters.text.adapter import PAD, token_units
from hnsx.adapters.text.tokenize import check_texts, check_tokenizer, encoded_rows, unit_spans, word_row


@dataclass
class Windows:
    """The windows of ``N`` texts.

    Attributes
    ----------
    x:
        ``(W, 2, L)`` int64 windows in the adapter's layout, word ids numbered from 0 in each window.
    offsets:
        ``(W, L, 2)`` character span of every token in its text.
    document:
        ``(W,)`` index of each window's text.
    unit:
        ``(W, L)`` the text-wide unit (word, or token) held by each unit slot of a window; -1 for empty slots.
    context:
        ``(W, L)`` ``min(tokens before, tokens after)`` of each unit within its window's words; -1 for empty slots.
    units:
        Number of units of each text.
    stride:
        Tokens shared by consecutive windows.
    """

    x: torch.Tensor
    offsets: torch.Tensor
    document: torch.Tensor
    unit: torch.Tensor
    context: torch.Tensor
    units: list[int]
    stride: int


def default_stride(tokenizer: Any, max_length: int) -> int:
    """Half the tokens a window holds besides the special tokens (the overlap of consecutive windows)."""
    return max(0, (max_length - tokenizer.num_special_tokens_to_add()) // 2)


def _check_stride(tokenizer: Any, max_length: int, stride: int | None) -> int:
    room = max_length - tokenizer.num_special_tokens_to_add()
    stride = default_stride(tokenizer, max_length) if stride is None else int(stride)
    if not 0 <= stride < room:
        raise ValueError(
            f"--stride {stride}: consecutive windows share this many tokens; it must lie in [0, {room}) "
            f"(a window holds {room} tokens besides the special ones at --max-length {max_length})"
        )
    return stride


def _slot_reduce(values: torch.Tensor, units: torch.Tensor, reduce: str, fill: int) -> torch.Tensor:
    """``amin`` / ``amax`` of per-token ``values`` ``(W, L)`` over the tokens of each unit slot (``fill`` if none)."""
    out = torch.full_like(values, fill)
    real = units >= 0
    return out.scatter_reduce(1, units.clamp_min(0), torch.where(real, values, out), reduce, include_self=True)


def centrality(units: torch.Tensor) -> torch.Tensor:
    """``(W, L)``: for each unit slot of each window, ``min(tokens before the unit, tokens after it)`` among the
    window's unit tokens (``units``: :func:`~hnsx.adapters.text.adapter.token_units`); -1 for empty slots."""
    length = units.shape[1]
    position = torch.arange(length).expand_as(units)
    start = torch.where(units >= 0, position, length).amin(1, keepdim=True)
    end = torch.where(units >= 0, position, -1).amax(1, keepdim=True)
    before = _slot_reduce(position, units, "amin", length) - start
    after = end - _slot_reduce(position, units, "amax", -1)
    filled = torch.zeros_like(units).scatter_add(1, units.clamp_min(0), (units >= 0).long()) > 0
    return torch.where(filled, torch.minimum(before, after), -1)


def _blank_cut_words(tokenizer: Any, rows: tuple[torch.Tensor, ...], document: torch.Tensor, pieces: list) -> None:
    """Blank (in place) the words that a row's edge cuts: fewer of their pieces in the row than in the text."""
    ids, words, offsets = rows
    for r in range(ids.shape[0]):
        held = Counter(words[r][words[r] >= 0].tolist())
        cut = [w for w, n in held.items() if n < pieces[int(document[r])][w]]
        if cut:
            blank = torch.isin(words[r], torch.tensor(cut))
            ids[r, blank], words[r, blank], offsets[r, blank] = tokenizer.pad_token_id, PAD, 0


def _check_whole(texts: list[str], pieces: list, words: torch.Tensor, document: torch.Tensor, stride: int) -> None:
    """``ValueError`` for a text of special tokens only, or with a word that no window holds whole."""
    whole = {(int(d), w) for d, row in zip(document, words) for w in row[row >= 0].tolist()}
    for d, count in enumerate(pieces):
        if not count:
            raise ValueError(f"text {d} ({texts[d][:40]!r}) holds only special tokens: nothing to explain")
        missing = [w for w in count if (d, w) not in whole]
        if missing:
            w = missing[0]
            raise ValueError(
                f"text {d}: word {w} has {count[w]} tokens and no window holds it whole at --stride {stride} "
                f"(consecutive windows share {stride} tokens); raise --stride (or --max-length)"
            )


def encode_windows(
    tokenizer: Any, texts: Sequence[str], max_length: int, *, stride: int | None = None, word_level: bool = True
) -> Windows:
    """Cut ``texts`` into windows of ``max_length`` tokens that share ``stride`` tokens (module docstring).

    Raises ``ValueError`` for what :func:`~hnsx.adapters.text.tokenize.encode_texts` refuses, for a stride outside
    ``[0, window)`` and for a word that no window holds whole.
    """
    check_tokenizer(tokenizer)
    texts = check_texts(texts)
    stride = _check_stride(tokenizer, max_length, stride)
    enc = tokenizer(
        texts,
        max_length=max_length,
        truncation=True,
        stride=stride,
        padding="max_length",
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    ids, words, offsets = rows = encoded_rows(tokenizer, enc)
    document = torch.tensor(enc["overflow_to_sample_mapping"], dtype=torch.int64)
    full = tokenizer(texts, truncation=False, add_special_tokens=True)
    special = set(tokenizer.all_special_ids)
    full_words = [word_row(special, full.word_ids(d), row, [1] * len(row)) for d, row in enumerate(full["input_ids"])]
    pieces = [Counter(w for w in row if w >= 0) for row in full_words]
    _blank_cut_words(tokenizer, rows, document, pieces)
    _check_whole(texts, pieces, words, document, stride)
    # number each window's words from 0; a text's first window keeps the text's word ids, as encode_texts does
    real = words >= 0
    first = torch.ones_like(document, dtype=torch.bool)
    first[1:] = document[1:] != document[:-1]
    lowest = torch.where(real, words, torch.full_like(words, 2**40)).amin(1)
    base = torch.where(first, torch.zeros_like(lowest), lowest)
    keep = real.any(1)  # a row inside one long word holds no whole word: dropped (another window holds that word)
    x = torch.stack([ids, torch.where(real, words - base[:, None], words)], 1)[keep]
    offsets, document, base, lowest = offsets[keep], document[keep], base[keep], lowest[keep]
    units = token_units(x, word_level)
    context = centrality(units)
    if word_level:
        unit_base, totals = base, [max(count) + 1 for count in pieces]
    else:  # a text's tokens are numbered in order; a window's first token is the first token of its lowest word
        tokens_before = [{} for _ in full_words]
        for seen, row in zip(tokens_before, full_words):
            for n, w in enumerate(w for w in row if w >= 0):
                seen.setdefault(w, n)
        unit_base = torch.tensor([tokens_before[int(d)][int(w)] for d, w in zip(document, lowest)])
        totals = [sum(count.values()) for count in pieces]
    slot = torch.arange(x.shape[2]).expand_as(units)
    unit = torch.where(context >= 0, unit_base[:, None] + slot, -1)
    return Windows(x=x, offsets=offsets, document=document, unit=unit, context=context, units=totals, stride=stride)


def stitch(values: torch.Tensor, windows: Windows) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per text, the value of each unit taken from the window where the unit is most central (earlier window on a
    tie), and that window's index (-1 for a unit no window holds, e.g. a word id only a typed special token has).

    ``values``: ``(W, L)`` per unit slot of each window. Returns two lists of ``(units,)`` tensors.
    """
    (stitched,), source = stitch_all([values], windows)
    return stitched, source


def stitch_all(values: Sequence[torch.Tensor], windows: Windows) -> tuple[list[list[torch.Tensor]], list[torch.Tensor]]:
    """:func:`stitch` of several ``(W, L)`` tensors at once, the window of each unit chosen once for all of them.

    Returns, per tensor of ``values``, its list of ``(units,)`` tensors, and the list of source windows.
    """
    n_windows = windows.unit.shape[0]
    offset = torch.tensor([0, *windows.units]).cumsum(0)
    total = int(offset[-1])
    held = windows.unit >= 0
    flat = (offset[windows.document][:, None] + windows.unit)[held]
    window = torch.arange(n_windows)[:, None].expand_as(windows.unit)[held]
    score = windows.context[held] * n_windows + (n_windows - 1 - window)
    best = torch.full((total,), -1, dtype=torch.int64).scatter_reduce(0, flat, score, "amax")
    chosen = score == best[flat]
    source = torch.full((total,), -1, dtype=torch.int64)
    source[flat[chosen]] = window[chosen]
    stitched = []
    for v in values:
        out = torch.zeros(total, dtype=v.dtype)
        out[flat[chosen]] = v[held][chosen]
        stitched.append(list(out.split(windows.units)))
    return stitched, list(source.split(windows.units))


@dataclass
class TextExplanation:
    """The explanation of one text.

    Attributes
    ----------
    text:
        The text.
    spans:
        Character span of every unit (word, or token).
    mask, keep_prob, valid:
        ``(units,)`` deterministic mask in {0, 1}, keep probability, and 1 for units that hold a word.
    window:
        ``(units,)`` which of the text's windows (0, 1, ...) decided each unit; -1 for none.
    logits:
        ``(C,)`` mean of the windows' class logits.
    window_logits:
        ``(windows, C)`` each window's class logits (the seeker on the window's kept words).
    prediction, confidence:
        Argmax of ``logits`` and its softmax probability.
    windows:
        Number of windows.
    """

    text: str
    spans: list[tuple[int, int]]
    mask: torch.Tensor
    keep_prob: torch.Tensor
    valid: torch.Tensor
    window: torch.Tensor
    logits: torch.Tensor
    window_logits: torch.Tensor
    prediction: int
    confidence: float
    windows: int


def explain_texts(
    model: Any, tokenizer: Any, texts: Sequence[str], *, stride: int | None = None, batch_size: int = 256
) -> list[TextExplanation]:
    """Explain each text with ``model`` (a text :class:`~hnsx.model.HideAndSeek`) in windows of its
    ``max_length`` sharing ``stride`` tokens, stitched as the module docstring says."""
    from hnsx.adapters.text.rationale import explain_encoded

    adapter = model.adapter
    windows = encode_windows(tokenizer, texts, adapter.max_length, stride=stride, word_level=adapter.word_level)
    explained = explain_encoded(model, windows.x, batch_size)
    (mask, keep_prob, valid), source = stitch_all([explained.mask, explained.keep_prob, explained.valid], windows)
    counts = torch.bincount(windows.document, minlength=len(windows.units)).clamp_min(1)
    logits = torch.zeros(len(windows.units), explained.logits.shape[1]).index_add_(0, windows.document,
                                                                                   explained.logits)  # fmt: skip
    logits = logits / counts[:, None]
    spans: list[list[tuple[int, int]]] = [[(0, 0)] * n for n in windows.units]
    for w, row in enumerate(unit_spans(windows.x, windows.offsets, adapter.word_level)):
        d = int(windows.document[w])
        for u, span in enumerate(row):
            if int(windows.unit[w, u]) >= 0 and span[1] > span[0]:
                spans[d][int(windows.unit[w, u])] = span
    first = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)[:-1]])
    out = []
    for d, text in enumerate(texts):
        probs = logits[d].softmax(0)
        own = torch.where(source[d] >= 0, source[d] - first[d], -1)
        out.append(
            TextExplanation(
                text=text,
                spans=spans[d],
                mask=mask[d],
                keep_prob=keep_prob[d],
                valid=valid[d],
                window=own,
                logits=logits[d],
                window_logits=explained.logits[first[d] : first[d] + counts[d]],
                prediction=int(probs.argmax()),
                confidence=float(probs.max()),
                windows=int(counts[d]),
            )
        )
    return out
