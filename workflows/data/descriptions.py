"""Synthetic charge descriptions with a learnable category, for the fastText workflow.

    python -m workflows.data.descriptions --rows 20000 --out sample-data/descriptions.parquet

Each charge has a merchant name and a free-text description whose words depend
on its `category` (travel, food, software, retail; a multi-class label) and on
whether it was disputed (`is_disputed`, a binary label), with shared filler
words and noise so that neither is trivial.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from workflows.data import write_parquet

CATEGORIES = {
    "travel": ["flight", "hotel", "airline", "booking", "taxi", "rail", "luggage", "resort"],
    "food": ["restaurant", "pizza", "coffee", "grocery", "bakery", "sushi", "dinner", "lunch"],
    "software": ["subscription", "cloud", "license", "saas", "hosting", "domain", "api", "seats"],
    "retail": ["shoes", "apparel", "electronics", "furniture", "books", "toys", "garden", "store"],
}
DISPUTE_WORDS = ["refund", "unrecognized", "never", "received", "cancelled", "duplicate", "urgent", "gift"]
FILLER = ["payment", "order", "purchase", "online", "card", "charge", "inc", "ltd", "service", "monthly", "the", "for"]
MERCHANT_SUFFIXES = ["co", "group", "labs", "shop", "express", "hq"]
MERCHANT_NAMES = ["acme", "northwind", "globex", "initech", "umbrella", "stark", "wayne", "tyrell", "cyberdyne", "hooli"]


def table(rows: int, seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)
    names = list(CATEGORIES)
    category = rng.choice(len(names), size=rows, p=[0.25, 0.3, 0.2, 0.25])
    disputed = rng.random(rows) < 0.15
    descriptions, merchants = [], []
    for c, d in zip(category, disputed):
        vocabulary = CATEGORIES[names[c]]
        own = vocabulary if rng.random() < 0.8 else CATEGORIES[names[rng.integers(len(names))]]  # some descriptions mislead
        words = [rng.choice(own)] + list(rng.choice(FILLER, 3))
        if rng.random() < 0.5:  # noise: a word from any category
            words.append(rng.choice(CATEGORIES[names[rng.integers(len(names))]]))
        if d or rng.random() < 0.05:
            words += list(rng.choice(DISPUTE_WORDS, 2))
        rng.shuffle(words)
        descriptions.append(" ".join(words))
        merchant_word = rng.choice(vocabulary) if rng.random() < 0.3 else rng.choice(MERCHANT_NAMES)
        merchants.append(f"{merchant_word} {rng.choice(MERCHANT_SUFFIXES)}")
    start = dt.datetime(2018, 1, 1, tzinfo=dt.timezone.utc)
    seconds = np.sort(rng.uniform(0, 365 * 86400, rows))
    created = pa.array([start + dt.timedelta(seconds=float(s)) for s in seconds], type=pa.timestamp("us", tz="UTC"))
    return pa.table({
        "created_at": created,
        "merchant_name": merchants,
        "description": descriptions,
        "category": [names[c] for c in category],
        "is_disputed": disputed,
    })


def write(rows: int, out: str | Path, seed: int = 11) -> Path:
    return write_parquet(table(rows, seed), out, row_group_size=max(1_000, rows // 10))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    print(f"wrote {args.rows:,} descriptions to {write(args.rows, args.out)}")


if __name__ == "__main__":
    main()
