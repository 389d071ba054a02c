"""An offline sentiment corpus whose label-carrying words are known: the demo's and the tests' data.

Sentences are built from templates around one sentiment word taken from VADER's human-rated lexicon (the
``vaderSentiment`` package ships it: about 7,500 entries rated from -4 to +4 by ten people each)::

    [opener] subject verb [negator] [intensifier] SENTIMENT-WORD [closer]
    "in short the soundtrack was not very delightful from start to finish"   -> negative

* the sentiment word has ``|rating| >= min_rating``; its sign gives the polarity;
* a negator from VADER's ``NEGATE`` list (``not``, ``never``, ...) flips it (with probability ``negation``);
* an intensifier from VADER's ``BOOSTER_DICT`` (``very``, ``really``, ...) does not change the label;
* the opener, subject, verb and closer are neutral filler: no filler word is in the lexicon (checked).

The *rationale* of a sentence, the words that carry its label, is the sentiment word and its negator (if any).
Each :class:`Sentence` records their character spans, so the words a hider keeps can be scored against them
(:func:`hnsx.adapters.text.rationale.rationale_scores`). Labels: 0 negative, 1 positive.

The sentiment words are drawn once from the lexicon with a fixed seed (the same vocabulary for every ``seed``);
``seed`` draws the sentences.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

CLASS_NAMES = ["negative", "positive"]
NEGATORS = ("not", "never", "seldom", "rarely")
OPENERS = (
    "",
    "",
    "",
    "in short",
    "in the end",
    "as expected",
    "after the weekend",
    "on the whole",
    "my brother said that",
    "we all noticed that",
    "according to the review",
    "last night",
    "i think",
)
SUBJECTS = (
    "the movie",
    "the film",
    "the plot",
    "the acting",
    "the soundtrack",
    "this book",
    "the dinner",
    "the hotel room",
    "the service",
    "the new phone",
    "the concert",
    "the ending",
    "the cast",
    "the second season",
    "the museum tour",
    "the coffee",
)
VERBS = ("was", "is", "seemed", "felt", "looked", "turned out", "sounded", "became")
CLOSERS = ("", "", "", "from start to finish", "for most of the evening", "in my view", "on that day",
           "as far as i can tell", "by the standards of the genre", "for the price", "this time",
           "according to my sister")  # fmt: skip
# Words of the lexicon left out of the sentiment vocabulary: profanity and slurs, and chat acronyms.
BLOCKED = ("fuck", "shit", "bitch", "cunt", "cock", "bastard", "asshole", "rape", "dick", "whore", "slut", "nigg",
           "fag", "damn", "piss", "crap", "suck", "porn", "dumbass", "jackass", "douche", "wtf", "lmao", "lmfao",
           "rofl", "lol", "xoxo", "twat", "raping", "molest", "cwot", "bwaha", "gratz", "haha", "effing", "frack",
           "frick", "frigg", "fugg", "flippin", "hella", "uber")  # fmt: skip
VOCAB_SEED = 1234


@dataclass(frozen=True)
class Sentence:
    """One generated sentence: its text, label (0 negative, 1 positive) and the character spans of its rationale."""

    text: str
    label: int
    rationale: tuple[tuple[int, int], ...]
    word: str
    negated: bool


def _vader():
    try:
        from vaderSentiment import vaderSentiment
    except ImportError:
        raise ValueError("the generated corpus needs the vaderSentiment package: pip install 'hnsx[text]'") from None
    return vaderSentiment


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """VADER's human-rated lexicon: ``{word: mean valence}`` (``-4`` to ``4``), as ``vaderSentiment`` ships it."""
    return dict(_vader().SentimentIntensityAnalyzer().lexicon)


@lru_cache(maxsize=4)
def sentiment_words(per_class: int = 120, min_rating: float = 2.0) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(negative, positive)`` sentiment words drawn from VADER's lexicon (fixed seed), ``per_class`` each.

    Kept: lower-case alphabetic words of 4 to 12 letters with ``|rating| >= min_rating`` that are neither negators,
    intensifiers nor blocked (profanity, chat acronyms) and hold a vowel.
    """
    vader = _vader()
    lexicon = vader_lexicon()
    fillers = _filler_words()
    neg, pos = [], []
    for word, rating in sorted(lexicon.items()):
        if not (word.isalpha() and word.islower() and 4 <= len(word) <= 12 and abs(rating) >= min_rating):
            continue
        if word in vader.NEGATE or word in vader.BOOSTER_DICT or word in fillers:
            continue
        if any(b in word for b in BLOCKED) or not any(v in word for v in "aeiou"):
            continue
        (pos if rating > 0 else neg).append(word)
    rng = random.Random(VOCAB_SEED)
    if min(len(neg), len(pos)) < per_class:
        raise ValueError(f"the lexicon has only {len(neg)} negative and {len(pos)} positive words for {per_class}")
    return tuple(sorted(rng.sample(neg, per_class))), tuple(sorted(rng.sample(pos, per_class)))


def _filler_words() -> set[str]:
    return {w for part in (OPENERS, SUBJECTS, VERBS, CLOSERS) for phrase in part for w in phrase.split()}


def intensifiers() -> tuple[str, ...]:
    """Single-word intensifiers (positive boosters) of VADER's ``BOOSTER_DICT`` outside its lexicon."""
    vader = _vader()
    lexicon = vader_lexicon()
    return tuple(
        sorted(
            w
            for w, v in vader.BOOSTER_DICT.items()
            if v > 0 and w.isalpha() and w not in lexicon and not any(b in w for b in BLOCKED)
        )
    )


def check_fillers() -> None:
    """Raise ``AssertionError`` if a filler word or negator or intensifier is rated in the lexicon."""
    lexicon = vader_lexicon()
    rated = sorted(w for w in _filler_words() | set(NEGATORS) if w in lexicon and w not in NEGATORS)
    assert not rated, f"filler words rated in the lexicon: {rated}"


def generate_corpus(
    n: int, seed: int = 0, *, negation: float = 0.3, intensify: float = 0.3, per_class: int = 120
) -> list[Sentence]:
    """``n`` sentences with balanced labels (see the module docstring)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    neg_words, pos_words = sentiment_words(per_class)
    boosters = intensifiers()
    rng = random.Random(seed)
    out: list[Sentence] = []
    for i in range(n):
        label = i % 2
        negated = rng.random() < negation
        polarity = label if not negated else 1 - label
        word = rng.choice(pos_words if polarity == 1 else neg_words)
        parts: list[tuple[str, bool]] = []  # (phrase, is rationale)
        for phrase in (rng.choice(OPENERS), rng.choice(SUBJECTS), rng.choice(VERBS)):
            if phrase:
                parts.append((phrase, False))
        if negated:
            parts.append((rng.choice(NEGATORS), True))
        if rng.random() < intensify:
            parts.append((rng.choice(boosters), False))
        parts.append((word, True))
        closer = rng.choice(CLOSERS)
        if closer:
            parts.append((closer, False))
        text, spans = "", []
        for phrase, is_rationale in parts:
            start = len(text) + (1 if text else 0)
            text = f"{text} {phrase}" if text else phrase
            if is_rationale:
                spans.append((start, start + len(phrase)))
        out.append(Sentence(text=text, label=label, rationale=tuple(spans), word=word, negated=negated))
    rng.shuffle(out)
    return out
