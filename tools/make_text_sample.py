"""Write templates/_shared/sample-reviews.csv: the synthetic product reviews of the text sample.

A maintainer's tool: `python tools/make_text_sample.py > templates/_shared/sample-reviews.csv`
(seeded: the same file every time; `python tools/make_text_sample.py SEED` draws another).
Nothing here comes from real reviews, people or products: every review is put together from
the small vocabulary below, so the file carries no facts.

The sample is meant to teach, not to be solved: a bag-of-words model (the templates' averaged
embeddings) should learn it well above chance but not perfectly. So besides plain reviews with
sentiment-bearing words it has

* negations ("not good", "not bad", "never failed"): the label goes against the word's usual
  sentiment, which an order-blind model only half gets;
* mixed reviews ("the sound is great but the battery died"): the clause after "but" decides;
  one positive and one negative clause each, so word counts alone cannot tell;
* lukewarm reviews ("it is okay", "average"), decided by a weak hint;
* label noise: a few labels flipped at random, as in any real set of ratings.

Columns: text,label (label: positive | negative), the same as the loaders expect.
"""

from __future__ import annotations

import csv
import random
import sys

SEED = 2
ROWS = 600
NOISE = 0.05  # share of labels flipped at random

PRODUCTS = ["speaker", "watch", "cable", "charger", "mouse", "keyboard", "printer", "camera"]
ASPECTS = ["sound", "battery", "screen", "price", "delivery", "build", "fit", "app"]
STRONG_POS = ["excellent", "great", "perfect", "brilliant", "superb"]
MILD_POS = ["good", "nice", "solid", "reliable", "comfortable"]
STRONG_NEG = ["awful", "terrible", "broken", "useless", "faulty"]
MILD_NEG = ["bad", "poor", "flimsy", "noisy", "cheap"]
POS_PHRASES = [
    "works perfectly",
    "would buy again",
    "five stars",
    "arrived on time",
    "worth the money",
    "does the job",
    "happy with it",
    "recommend it",
]
NEG_PHRASES = [
    "stopped working",
    "waste of money",
    "one star",
    "arrived damaged",
    "returned it",
    "fell apart",
    "want a refund",
    "avoid it",
]
# Negated phrases: (text, label). The sentiment word points the other way.
NEGATED = [
    ("not good", "negative"),
    ("not great", "negative"),
    ("not worth the money", "negative"),
    ("not reliable", "negative"),
    ("would not buy again", "negative"),
    ("not happy with it", "negative"),
    ("not comfortable", "negative"),
    ("never works", "negative"),
    ("not bad", "positive"),
    ("not bad at all", "positive"),
    ("never failed", "positive"),
    ("no complaints", "positive"),
    ("not noisy", "positive"),
    ("not flimsy at all", "positive"),
    ("nothing broken", "positive"),
    ("not cheap looking", "positive"),
]
FILLER = [
    "i bought it for my desk",
    "used it for a week",
    "got it as a gift",
    "the box was blue",
    "it came on monday",
    "my second one",
    "bought it last month",
    "for the kitchen",
    "for the office",
    "used it every day",
    "my partner chose it",
    "ordered two",
]
LUKEWARM = ["it is okay", "average", "nothing special", "it does what it says", "as expected", "fine i guess"]
HINT = {"positive": ["for the price", "overall", "mostly"], "negative": ["but meh", "sadly", "i suppose"]}
OTHER = {"positive": "negative", "negative": "positive"}


def words(label: str, rng: random.Random, strong: float = 0.5) -> str:
    """One sentiment word of the label's side, strong or mild."""
    if label == "positive":
        return rng.choice(STRONG_POS if rng.random() < strong else MILD_POS)
    return rng.choice(STRONG_NEG if rng.random() < strong else MILD_NEG)


def clause(label: str, rng: random.Random) -> str:
    """A short clause with the label's sentiment: about the product, an aspect, or a stock phrase."""
    form = rng.randrange(4)
    if form == 0:
        return f"{words(label, rng)} {rng.choice(PRODUCTS)}"
    if form == 1:
        return f"the {rng.choice(ASPECTS)} is {words(label, rng)}"
    if form == 2:
        return f"really {words(label, rng)}"
    return rng.choice(POS_PHRASES if label == "positive" else NEG_PHRASES)


def plain(rng: random.Random) -> tuple[str, str]:
    label = rng.choice(["positive", "negative"])
    parts = [clause(label, rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(FILLER))
    return ", ".join(parts), label


def negated(rng: random.Random) -> tuple[str, str]:
    phrase, label = rng.choice(NEGATED)
    subject = rng.choice([f"the {rng.choice(PRODUCTS)} is", f"the {rng.choice(ASPECTS)} is", "honestly", "this is"])
    subject = "" if phrase.startswith(("would", "never", "no ", "nothing")) else subject + " "
    text = f"{subject}{phrase}"
    if rng.random() < 0.5:
        text = f"{rng.choice(FILLER)}, {text}"
    return text, label


def mixed(rng: random.Random) -> tuple[str, str]:
    label = rng.choice(["positive", "negative"])
    first, second = clause(OTHER[label], rng), clause(label, rng)
    return f"{first} but {second}", label


def lukewarm(rng: random.Random) -> tuple[str, str]:
    label = rng.choice(["positive", "negative"])
    return f"{rng.choice(LUKEWARM)} {rng.choice(HINT[label])}", label


KINDS = [(plain, 0.7), (negated, 0.15), (mixed, 0.1), (lukewarm, 0.05)]


def reviews(rows: int = ROWS, seed: int = SEED) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    made = []
    for _ in range(rows):
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        text, label = kind(rng)
        if rng.random() < NOISE:
            label = OTHER[label]
        made.append((text, label))
    return made


def main(argv: list[str]) -> None:
    seed = int(argv[0]) if argv else SEED
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(reviews(seed=seed))


if __name__ == "__main__":
    main(sys.argv[1:])
