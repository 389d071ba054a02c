"""Bad text input: each case raises (or warns) with a message naming the problem."""

from __future__ import annotations

import pytest
import torch

from hnsx.adapter import InputError
from hnsx.adapters.text import data as text_data
from hnsx.adapters.text.adapter import TextAdapter
from hnsx.adapters.text.seekers import bundled_minilm
from hnsx.adapters.text.spec import text_spec
from hnsx.adapters.text.tokenize import encode_texts, fill_token_id, load_tokenizer, train_wordpiece
from hnsx.spec import build_model
from hnsx.wrap import wrap_classifier

L = 12
TEXTS = ["a fine film", "a sad film", "a lovely day", "a grim day"] * 3


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece(TEXTS, vocab_size=80)


def tiny_model(tokenizer, num_classes=2):
    spec = text_spec(L, num_classes, vocab_size=len(tokenizer), pad_id=tokenizer.pad_token_id,
                     fill_id=fill_token_id(tokenizer), hider_kwargs={"d_model": 8, "layers": 1, "heads": 2, "ff": 8},
                     seeker_kwargs={"hidden": 8, "layers": 1, "heads": 2, "intermediate": 8})  # fmt: skip
    return build_model(spec)


def test_empty_string_is_refused(tokenizer):
    with pytest.raises(ValueError, match="text 1 is empty"):
        encode_texts(tokenizer, ["a fine film", "   "], L)


def test_text_of_only_special_tokens_is_refused(tokenizer):
    with pytest.raises(ValueError, match="only special tokens"):
        encode_texts(tokenizer, ["a fine film", "[CLS] [SEP]"], L)


def test_batch_without_any_word_is_refused_by_the_adapter(tokenizer):
    x = encode_texts(tokenizer, ["a fine film"], L).x
    x[:, 1][x[:, 1] >= 0] = -1  # every word marked special
    with pytest.raises(InputError, match="only special or padding tokens"):
        tiny_model(tokenizer)(x)


def test_long_text_is_truncated_with_a_warning(tokenizer):
    long = " ".join(["a fine film"] * 10)
    with pytest.warns(UserWarning, match="1 of 2 text\\(s\\) are longer than max_length=12"):
        enc = encode_texts(tokenizer, ["a sad day", long], L)
    assert enc.truncated == [1]
    assert enc.x.shape == (2, 2, L) and int(enc.x[1, 0, -1]) == tokenizer.sep_token_id


def test_tokenizer_larger_than_the_seekers_vocabulary_is_refused(tokenizer):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=8, max_position_embeddings=64)  # fmt: skip
    classifier = BertForSequenceClassification(config)
    minilm_tokenizer = load_tokenizer(bundled_minilm())  # 30,522 BERT word pieces
    with pytest.raises(ValueError, match="30522 tokens but the classifier's input embeddings have only"):
        wrap_classifier(classifier, tokenizer=minilm_tokenizer, max_length=L)


def test_token_ids_outside_the_vocabulary_are_refused(tokenizer):
    adapter = TextAdapter(L, len(tokenizer), tokenizer.pad_token_id, fill_token_id(tokenizer))
    x = encode_texts(tokenizer, ["a fine film"], L).x
    x[0, 0, 1] = len(tokenizer) + 5
    with pytest.raises(InputError, match="another tokenizer"):
        adapter.validate(x)


def test_missing_text_column_is_named(tokenizer, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("review,label\na fine film,1\na sad film,0\n")
    with pytest.raises(ValueError, match="no text column 'text'; its columns are: review, label"):
        text_data.load_text_file(path, tokenizer, L)


def test_missing_label_column_is_named(tokenizer, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,stars\na fine film,1\na sad film,0\n")
    with pytest.raises(ValueError, match="no label column 'label'"):
        text_data.load_text_file(path, tokenizer, L)


def test_missing_column_of_a_hf_dataset_is_named(tokenizer):
    import datasets

    local = datasets.Dataset.from_dict({"sentence": TEXTS, "label": [0, 1, 1, 0] * 3})
    with pytest.raises(ValueError, match="no text column 'text'"):
        text_data.text_data_from_hf(local, tokenizer, L)


def test_labels_outside_the_classifiers_range_are_refused(tokenizer, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + "".join(f"{t},{i % 3}\n" for i, t in enumerate(TEXTS)))
    data = text_data.load_text_file(path, tokenizer, L)
    assert data.num_classes == 3
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        text_data.check_label_range(data, 2)


def test_negative_labels_are_refused(tokenizer):
    with pytest.raises(ValueError, match="class indices >= 0"):
        text_data.encode_labels([0, 1, -1])


def test_empty_text_in_a_data_file_is_refused(tokenizer, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\na fine film,1\n"",0\na sad film,0\n')
    with pytest.raises(ValueError, match="empty 'text' \\(first: data row 2\\)"):
        text_data.load_text_file(path, tokenizer, L)
