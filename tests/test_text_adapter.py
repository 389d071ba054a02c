"""Text adapter, token-masker hider and HF seeker wrapper: layout, units, filling, gradients, checkpoints."""

from __future__ import annotations

import pytest
import torch

from hnsx.adapters.text.adapter import PAD, SPECIAL, MaskedTokens, TextAdapter
from hnsx.adapters.text.hiders import TokenMaskerHider
from hnsx.adapters.text.seekers import HFSeeker
from hnsx.adapters.text.spec import text_spec
from hnsx.adapters.text.tokenize import encode_texts, fill_token_id, train_wordpiece, unit_spans
from hnsx.explain import load_trained
from hnsx.loss import hns_loss
from hnsx.registry import HIDERS, SEEKERS
from hnsx.spec import build_model
from hnsx.training.checkpoint import load_model_state, save_checkpoint

L = 16
TEXTS = ["the film was not good", "the plot seemed wonderful today", "a bad ending", "the good film was good"]


@pytest.fixture(scope="module")
def tokenizer():
    # A small vocabulary so that rare words ("wonderful") are split into several pieces.
    corpus = TEXTS * 20 + ["the film was good", "the plot was bad", "a film", "wonder", "full"] * 10
    return train_wordpiece(corpus, vocab_size=70)


def make_model(tokenizer, word_level=True, attention="keep", **hider):
    torch.manual_seed(0)
    spec = text_spec(
        L,
        2,
        vocab_size=len(tokenizer),
        pad_id=tokenizer.pad_token_id,
        fill_id=fill_token_id(tokenizer),
        word_level=word_level,
        attention=attention,
        hider_kwargs={"d_model": 16, "layers": 1, "heads": 2, "ff": 32, **hider},
        seeker_kwargs={"hidden": 16, "layers": 1, "heads": 2, "intermediate": 32, "dropout": 0.0},
    )
    return build_model(spec).eval(), spec


def test_encoding_marks_special_tokens_and_padding(tokenizer):
    enc = encode_texts(tokenizer, TEXTS, L)
    ids, words = enc.x[:, 0], enc.x[:, 1]
    assert enc.x.shape == (4, 2, L) and enc.x.dtype == torch.int64
    assert (words[:, 0] == SPECIAL).all()  # [CLS]
    assert ids[0, 0] == tokenizer.cls_token_id
    last = (words[0] != PAD).nonzero().max()
    assert ids[0, last] == tokenizer.sep_token_id and words[0, last] == SPECIAL
    assert (ids[words == PAD] == tokenizer.pad_token_id).all()
    assert words[0, 1:6].tolist() == [0, 1, 2, 3, 4]  # "the film was not good", one piece each


def test_word_level_units_give_all_pieces_of_a_word_one_decision(tokenizer):
    enc = encode_texts(tokenizer, ["the plot seemed wonderful today"], L)
    words = enc.x[0, 1]
    pieces = (words == 3).sum()
    assert pieces >= 2, "the test needs 'wonderful' split into pieces"
    adapter = TextAdapter(L, len(tokenizer), tokenizer.pad_token_id, fill_token_id(tokenizer))
    mask = torch.ones(1, L)
    mask[0, 3] = 0.0  # hide word 3
    keep = adapter.token_keep(enc.x, mask)
    assert (keep[0, words == 3] == 0).all() and (keep[0, (words >= 0) & (words != 3)] == 1).all()
    assert (keep[0, words < 0] == 1).all()  # special tokens always kept (padding never counted)
    valid = adapter.valid_units(enc.x)
    assert valid.sum() == 5  # five words, not the number of tokens
    assert adapter.kept_fraction(mask, valid).item() == pytest.approx(4 / 5)
    assert adapter.kept_fraction(torch.zeros(1, L), valid).item() == 0.0
    spans = unit_spans(enc.x, enc.offsets)[0]
    assert "the plot seemed wonderful today"[slice(*spans[3])] == "wonderful"


def test_token_level_units_are_tokens(tokenizer):
    enc = encode_texts(tokenizer, ["the plot seemed wonderful today"], L)
    adapter = TextAdapter(L, len(tokenizer), tokenizer.pad_token_id, fill_token_id(tokenizer), word_level=False)
    n_tokens = int((enc.x[0, 1] >= 0).sum())
    assert adapter.valid_units(enc.x).sum() == n_tokens > 5


def test_hider_pools_piece_logits_per_word(tokenizer):
    enc = encode_texts(tokenizer, ["the plot seemed wonderful today"], L)
    torch.manual_seed(0)
    hider = TokenMaskerHider(L, len(tokenizer), d_model=16, layers=1, heads=2, ff=32).eval()
    tokens = hider.token_logits(enc.x)[0]
    units = hider(enc.x)[0]
    words = enc.x[0, 1]
    assert torch.allclose(units[3], tokens[words == 3].mean())
    assert torch.allclose(units[0], tokens[words == 0].mean())
    assert (units[5:] == 0).all()  # slots past the last word


def test_hidden_word_becomes_the_mask_token_embedding(tokenizer):
    model, _ = make_model(tokenizer)
    with torch.no_grad():  # BERT's initial weights (std 0.02) give nearly constant logits: spread them
        for p in model.seeker.parameters():
            p.normal_(0.0, 0.5)
    x = encode_texts(tokenizer, TEXTS, L).x
    mask = torch.ones(4, L)
    mask[:, 1] = 0.0  # hide the second word of every sentence
    masked = model.adapter.apply_mask(x, mask)
    assert isinstance(masked, MaskedTokens)
    replaced = x.clone()
    replaced[:, 0][(x[:, 1] == 1)] = tokenizer.mask_token_id
    with torch.no_grad():
        assert torch.allclose(model.seeker(masked), model.seeker(replaced), atol=1e-5)
        assert not torch.allclose(model.seeker(masked), model.seeker(x), atol=1e-5)


def test_attention_drop_removes_hidden_tokens_from_attention(tokenizer):
    model, _ = make_model(tokenizer, attention="drop")
    x = encode_texts(tokenizer, TEXTS, L).x
    mask = torch.ones(4, L)
    mask[:, 1] = 0.0
    masked = model.adapter.apply_mask(x, mask)
    expected = ((x[:, 1] != PAD) & (x[:, 1] != 1)).long()
    assert torch.equal(masked.attention_mask, expected)


@pytest.mark.parametrize("attention", ["keep", "drop"])
def test_which_words_get_a_gradient(tokenizer, attention):
    # With attention "keep" every word's keep value gets a gradient from the loss; with "drop" a hidden word's gets
    # none (nothing attends to it), as the adapter's docstring and docs/text.md say.
    model, _ = make_model(tokenizer, attention=attention)
    x = encode_texts(tokenizer, TEXTS, L).x
    mask = model.adapter.valid_units(x).clone()
    mask[:, 1] = 0.0  # the second word of every sentence hidden
    mask.requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(
        model.seeker(model.adapter.apply_mask(x, mask)), torch.tensor([0, 1, 0, 1])
    )
    loss.backward()
    hidden, kept = mask.grad[:, 1].abs(), mask.grad[:, 0].abs()
    assert bool((kept > 0).all())
    assert bool((hidden > 0).all()) if attention == "keep" else bool((hidden == 0).all())


def test_gradient_reaches_the_hider(tokenizer):
    model, _ = make_model(tokenizer)
    model.train()
    x = encode_texts(tokenizer, TEXTS, L).x
    out = model(x)
    assert out.mask.shape == (4, L) and out.logits.shape == (4, 2)
    hns_loss(out, torch.tensor([0, 1, 0, 1]), 0.5, model.binarizer, model.adapter.kept_fraction).loss.backward()
    grads = [p.grad for p in model.hider.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0
    assert model.hider.embed.weight.grad.abs().sum() > 0  # through the seeker's input embeddings


def test_registries_hold_the_text_builders():
    assert "token-masker" in HIDERS and "tiny-bert" in SEEKERS and "hf-sequence-classifier" in SEEKERS


def test_shared_embeddings_checkpoint_round_trip(tokenizer, tmp_path):
    model, spec = make_model(tokenizer, share_embeddings=True, embedding_dim=16)
    assert model.hider.embed is None
    assert model.hider._shared[0] is model.seeker.input_embeddings()
    assert not any(k.startswith("hider.") and "word_embeddings" in k for k in model.state_dict())
    x = encode_texts(tokenizer, TEXTS, L).x
    with torch.no_grad():
        before = model(x).logits
    save_checkpoint(tmp_path / "ck", model.state_dict(), {"spec": spec.to_dict()})
    loaded = load_trained(tmp_path / "ck")
    assert loaded.hider._shared[0] is loaded.seeker.input_embeddings()
    with torch.no_grad():
        assert torch.allclose(loaded(x).logits, before, atol=1e-6)
    load_model_state(loaded, tmp_path / "ck")


def test_hf_seeker_wraps_a_model_built_from_a_config(tokenizer):
    seeker = SEEKERS.build(
        "hf-sequence-classifier",
        input_shape=(2, L),
        num_classes=3,
        model_config={"model_type": "bert", "vocab_size": len(tokenizer), "hidden_size": 16, "num_hidden_layers": 1,
                      "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": L},
    )  # fmt: skip
    assert isinstance(seeker, HFSeeker)
    x = encode_texts(tokenizer, TEXTS, L).x
    assert seeker.eval()(x).shape == (4, 3)
