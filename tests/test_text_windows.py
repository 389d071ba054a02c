"""Long texts explained in windows (hnsx.adapters.text.windows): one mask value per word, short texts unchanged, a
keyword past max_length found, the stitching rule against a slow reference, and the CLI's --stride."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from hnsx.adapters.text.adapter import TextAdapter, pool_to_units, token_units
from hnsx.adapters.text.corpus import generate_corpus
from hnsx.adapters.text.rationale import explain_encoded
from hnsx.adapters.text.spec import text_spec
from hnsx.adapters.text.tokenize import encode_texts, fill_token_id, train_wordpiece
from hnsx.adapters.text.windows import encode_windows, explain_texts, stitch
from hnsx.binarizers import DeterministicBinarizer
from hnsx.cli import main
from hnsx.model import HideAndSeek
from hnsx.spec import build_model

L = 16
SENTENCES = [s.text for s in generate_corpus(60, seed=3)]
LONG = [" ".join(SENTENCES[i : i + 6]) for i in range(0, 36, 6)]  # six texts of six sentences, 50-70 words each
FIXTURE_RUN = Path(__file__).parent / "fixtures" / "checkpoints-v0.1" / "text"


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece(SENTENCES, vocab_size=200)  # small: rarer words are cut into several pieces


def tiny_model(tokenizer, word_level=True):
    torch.manual_seed(0)
    spec = text_spec(L, 2, vocab_size=len(tokenizer), pad_id=tokenizer.pad_token_id, fill_id=fill_token_id(tokenizer),
                     word_level=word_level, hider_kwargs={"d_model": 16, "layers": 1, "heads": 2, "ff": 16},
                     seeker_kwargs={"hidden": 16, "layers": 1, "heads": 2, "intermediate": 16})  # fmt: skip
    return build_model(spec)


def units_of(tokenizer, text, word_level):
    """Character spans of the text's words (or tokens), from one untruncated encoding."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if not word_level:
        return [tuple(span) for span in enc["offset_mapping"]]
    spans = {}
    for w, (s, e) in zip(enc.word_ids(), enc["offset_mapping"]):
        a, b = spans.get(w, (s, e))
        spans[w] = (min(a, s), max(b, e))
    return [spans[w] for w in range(max(spans) + 1)]


@pytest.mark.parametrize("word_level", [True, False])
def test_every_unit_of_a_long_text_gets_exactly_one_mask_value(tokenizer, word_level):
    model = tiny_model(tokenizer, word_level)
    explained = explain_texts(model, tokenizer, LONG)  # default stride: 7 of a window's 14 tokens
    for text, e in zip(LONG, explained):
        units = units_of(tokenizer, text, word_level)
        assert len(units) > L and e.windows >= 4
        assert e.spans == units  # every word, in order, each once
        n = len(units)
        assert e.mask.shape == e.keep_prob.shape == e.valid.shape == e.window.shape == (n,)
        assert bool((e.valid == 1).all()) and bool((e.window >= 0).all()) and int(e.window.max()) == e.windows - 1
        assert set(e.mask.tolist()) <= {0.0, 1.0} and torch.equal(e.mask, (e.keep_prob >= 0.5).float())
        assert e.window.diff().min() >= 0  # windows run along the text: a later word is never decided earlier


def test_a_text_shorter_than_max_length_is_explained_as_before(tokenizer):
    model = tiny_model(tokenizer)
    short = [s for s in SENTENCES if len(tokenizer(s)["input_ids"]) <= L][:10]
    assert len(short) == 10
    encoded = encode_texts(tokenizer, short, L)
    windows = encode_windows(tokenizer, short, L)
    assert torch.equal(windows.x, encoded.x) and torch.equal(windows.offsets, encoded.offsets)
    before = explain_encoded(model, encoded.x)
    after = explain_texts(model, tokenizer, short)
    for i, e in enumerate(after):
        n = len(e.spans)
        assert e.windows == 1 and bool((e.window == 0).all())
        assert torch.equal(e.mask, before.mask[i, :n]) and torch.equal(e.keep_prob, before.keep_prob[i, :n])
        assert e.prediction == int(before.prediction[i]) and e.confidence == pytest.approx(float(before.confidence[i]))


class KeywordHider(nn.Module):
    """Keeps exactly the words holding the keyword's token: logit +4 for its pieces, -4 for all others."""

    def __init__(self, keyword_id: int) -> None:
        super().__init__()
        self.keyword_id = keyword_id
        self.anchor = nn.Parameter(torch.zeros(()))  # explain_encoded reads the device off the parameters

    def forward(self, x):
        hit = (x[:, 0] == self.keyword_id).float() * 8.0 - 4.0
        return pool_to_units(hit, token_units(x)) + self.anchor


class KeywordSeeker(nn.Module):
    """Class 1 exactly when a kept token is the keyword."""

    def __init__(self, keyword_id: int) -> None:
        super().__init__()
        self.keyword_id = keyword_id

    def forward(self, masked):
        seen = ((masked.input_ids == self.keyword_id).float() * masked.keep).amax(1)
        return torch.stack([1.0 - seen, seen], 1) * 5.0


def test_a_keyword_past_max_length_is_kept_by_a_model_that_keeps_it_within():
    keyword = "zebra"
    tok = train_wordpiece([*SENTENCES, *[keyword] * 50], vocab_size=200)
    keyword_id = tok.convert_tokens_to_ids(keyword)
    assert tok(keyword, add_special_tokens=False)["input_ids"] == [keyword_id]
    adapter = TextAdapter(L, len(tok), tok.pad_token_id, fill_token_id(tok))
    model = HideAndSeek(KeywordHider(keyword_id), DeterministicBinarizer(), KeywordSeeker(keyword_id), adapter, 2)
    filler = LONG[0].split()
    early, late = " ".join([*filler[:3], keyword, *filler[3:]]), " ".join([*filler[:45], keyword, *filler[45:]])
    assert tok(early)["input_ids"].index(keyword_id) < L - 1 < 3 * L < tok(late)["input_ids"].index(keyword_id)
    for text in (early, late):
        (e,) = explain_texts(model, tok, [text])
        kept = [text[s:t] for (s, t), m in zip(e.spans, e.mask.tolist()) if m]
        assert kept == [keyword] and e.windows > 4
        (unit,) = e.mask.nonzero().flatten().tolist()
        decided = int(e.window[unit])  # the window that kept it sees it, and says class 1
        assert int(e.window_logits[decided].argmax()) == 1
        assert torch.allclose(e.logits, e.window_logits.mean(0))  # the text's logits: the mean over its windows
    sees = (e.window_logits.argmax(1) == 1).sum()
    assert 1 <= int(sees) <= 2 < e.windows and e.prediction == 0  # the overlap holds it twice at most: outvoted
    with pytest.warns(UserWarning, match="truncated"):
        cut = encode_texts(tok, [late], L).x  # what the model saw before: the first L tokens, no keyword
    truncated = explain_encoded(model, cut)
    assert float((truncated.mask * truncated.valid).sum()) == 0.0 and int(truncated.prediction[0]) == 0


def reference_stitch(values, windows, texts, tokenizer, word_level):
    """Slow reference of the rule: for every unit of a text (found by its character span), among the windows that
    hold it, the one where min(tokens before it, tokens after it) within the window's units is largest; the earlier
    window on a tie."""
    out = []
    for d, text in enumerate(texts):
        spans = units_of(tokenizer, text, word_level)
        best = {}
        for w in range(windows.x.shape[0]):
            if int(windows.document[w]) != d:
                continue
            words = windows.x[w, 1].tolist()
            positions = [j for j, v in enumerate(words) if v >= 0]
            first, last = positions[0], positions[-1]
            if word_level:  # slot = the window's word id; its tokens are those with that id
                groups = {
                    v: [j for j in positions if words[j] == v] for v in dict.fromkeys(words[j] for j in positions)
                }
            else:  # slot = the token's rank among the window's tokens
                groups = {slot: [j] for slot, j in enumerate(positions)}
            for slot, tokens in groups.items():
                start = int(windows.offsets[w, tokens[0], 0])
                unit = next(u for u, (a, b) in enumerate(spans) if a <= start < b)
                context = min(tokens[0] - first, last - tokens[-1])
                if unit not in best or context > best[unit][0]:
                    best[unit] = (context, float(values[w, slot]))
        out.append(torch.tensor([best[u][1] for u in range(len(spans))]))
    return out


@pytest.mark.parametrize(("word_level", "stride"), [(True, None), (True, 10), (False, 7), (False, 12)])
def test_stitching_matches_a_slow_reference(tokenizer, word_level, stride):
    windows = encode_windows(tokenizer, LONG[:3], L, stride=stride, word_level=word_level)
    values = torch.rand(windows.x.shape[0], L, generator=torch.Generator().manual_seed(stride or 0))
    stitched, source = stitch(values, windows)
    expected = reference_stitch(values, windows, LONG[:3], tokenizer, word_level)
    for got, want, src in zip(stitched, expected, source):
        assert torch.equal(got, want) and bool((src >= 0).all())


def test_bad_strides_are_refused(tokenizer):
    with pytest.raises(ValueError, match=r"--stride 14: .* must lie in \[0, 14\)"):
        encode_windows(tokenizer, LONG[:1], L, stride=14)
    with pytest.raises(ValueError, match=r"--stride -1"):
        encode_windows(tokenizer, LONG[:1], L, stride=-1)
    tok = train_wordpiece(["a fine film", "x y", "yx"], vocab_size=40)  # "xxxxxx" is cut into k pieces
    k = len(tok("xxxxxx", add_special_tokens=False)["input_ids"])
    assert 3 <= k <= 8
    # windows of 10 tokens (12 with [CLS] and [SEP]); the word starts k - 1 tokens before the first window's end, so
    # at --stride k - 2 the next window starts one token into it: cut in both; at --stride k - 1 the next holds it
    before = 10 - (k - 1)
    text = " ".join(["y"] * before + ["xxxxxx"] + ["y"] * 30)
    with pytest.raises(ValueError, match=f"word {before} has {k} tokens and no window holds it whole at --stride"):
        encode_windows(tok, [text], 12, stride=k - 2)
    windows = encode_windows(tok, [text], 12, stride=k - 1)
    assert windows.units == [before + 31] and int((windows.unit == before).sum()) == 1
    too_long = " ".join(["y", "x" * 40, "y"])  # more pieces than a window holds: no stride helps
    with pytest.raises(ValueError, match="no window holds it whole"):
        encode_windows(tok, [too_long], 12, stride=9)


def test_cli_explains_a_long_text_in_windows(capsys, tmp_path):
    text = " ".join(["the film was not pleasant but the cast was lovely and the music was awful"] * 4)
    argv = ["explain", "--checkpoint", str(FIXTURE_RUN), "--stride", "6", "the film was not pleasant", text]
    assert main(argv) == 0
    short, long = capsys.readouterr().out.strip().splitlines()
    assert "windows" not in short and "/5 words" in short
    assert long.endswith("11 windows") and "/60 words" in long
    assert main([*argv[:3], "--stride", "99", text]) == 2
    assert "--stride 99" in capsys.readouterr().err
    image_run = FIXTURE_RUN.parent / "image"
    assert (
        main(["explain", "--checkpoint", str(image_run), "--stride", "4", "--out", str(tmp_path / "out"), "x.png"]) == 2
    )
    assert (
        "--stride applies to models that explain long texts in windows (text), not to image" in capsys.readouterr().err
    )
