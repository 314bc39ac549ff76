"""Synthetic card charges with a learnable fraud signal, at any size, deterministically.

    python -m workflows.data.charges --rows 200000 --out sample-data/charges.parquet [--partitioned]

One year of charges (2018-01-01 to 2019-01-01), sorted by `created_at` and
written in row groups, so date ranges prune row groups. Fraud
(`has_fraud_dispute`) is likelier for online and phone charges, very small
"card testing" amounts and large amounts, cards used from many countries in
24 hours, and cards from another country than the charge. The same rows and
seed always give the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START = dt.datetime(2018, 1, 1, tzinfo=dt.timezone.utc)
END = dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc)
CHUNK_ROWS = 1_000_000

CHARGE_TYPES = ["online", "in_person", "recurring", "phone"]
CHARGE_TYPE_P = [0.5, 0.3, 0.15, 0.05]
CHARGE_TYPE_RISK = np.array([1.2, -1.0, -1.5, 1.6])
COUNTRIES = ["US", "CA", "GB", "FR", "DE", "BR", "MX", "JP", "IN", "AU"]
COUNTRY_P = [0.42, 0.14, 0.1, 0.06, 0.07, 0.06, 0.05, 0.04, 0.03, 0.03]
BRANDS = ["visa", "mastercard", "amex", "discover"]
BRAND_P = [0.55, 0.3, 0.1, 0.05]
CURRENCIES = {"US": "usd", "CA": "cad", "GB": "gbp", "FR": "eur", "DE": "eur", "BR": "brl", "MX": "mxn", "JP": "jpy", "IN": "inr", "AU": "aud"}


def _categorical(rng: np.random.Generator, values: list[str], p: list[float], n: int) -> tuple[np.ndarray, pa.Array]:
    codes = rng.choice(len(values), size=n, p=p).astype(np.int32)
    return codes, pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(values))


def chunk(index: int, rows: int, total_rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng([seed, index])
    span = (END - START).total_seconds()
    first = index * CHUNK_ROWS
    lo, hi = span * first / total_rows, span * (first + rows) / total_rows
    seconds = np.sort(rng.uniform(lo, hi, rows))
    created_at = (np.datetime64(START.replace(tzinfo=None), "us") + (seconds * 1e6).astype("timedelta64[us]"))

    type_codes, charge_type = _categorical(rng, CHARGE_TYPES, CHARGE_TYPE_P, rows)
    country_codes, charge_country = _categorical(rng, COUNTRIES, COUNTRY_P, rows)
    foreign = rng.random(rows) < 0.12
    card_codes = np.where(foreign, rng.integers(0, len(COUNTRIES), rows), country_codes).astype(np.int32)
    card_country = pa.DictionaryArray.from_arrays(pa.array(card_codes), pa.array(COUNTRIES))
    nulls = rng.random(rows) < 0.01  # a few charges without a known card brand
    brand_codes = rng.choice(len(BRANDS), size=rows, p=BRAND_P).astype(np.int32)
    amount = np.round(np.exp(rng.normal(3.6, 1.1, rows)), 2)
    testing = rng.random(rows) < 0.03
    amount[testing] = rng.choice([0.5, 1.0, 1.5, 2.0], testing.sum())
    countries_24h = 1 + rng.poisson(0.25, rows)
    countries_24h[rng.random(rows) < 0.02] += rng.integers(1, 4)

    logit = (
        -4.4
        + CHARGE_TYPE_RISK[type_codes]
        + 3.2 * testing
        + 1.3 * np.clip(np.log(amount / 150.0), 0, None)
        + 0.8 * (countries_24h - 1)
        + 1.4 * (card_codes != country_codes)
        + rng.normal(0, 0.6, rows)
    )
    fraud = rng.random(rows) < 1 / (1 + np.exp(-logit))

    ids = rng.integers(0, 2**63 - 1, rows, dtype=np.int64)
    return pa.table(
        {
            "charge_id": pa.array(np.char.add("ch_", np.char.zfill(np.char.mod("%x", ids), 16))),
            "created_at": pa.array(created_at, type=pa.timestamp("us", tz="UTC")),
            "merchant_id": pa.array(np.char.add("acct_", rng.integers(1000, 60000, rows).astype(str))),
            "charge_type": charge_type,
            "charge_amount": amount,
            "currency": pa.DictionaryArray.from_arrays(pa.array(country_codes), pa.array([CURRENCIES[c] for c in COUNTRIES])),
            "charge_country": charge_country,
            "card_country": card_country,
            "card_brand": pa.DictionaryArray.from_arrays(pa.array(brand_codes, mask=nulls), pa.array(BRANDS)),
            "countries_used_24h": countries_24h.astype(np.int32),
            "has_fraud_dispute": fraud,
        }
    )


def _plain_strings(table: pa.Table) -> pa.Table:
    """Store strings as plain parquet strings, as most writers do, not as Arrow dictionaries."""
    schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f for f in table.schema])
    return table.cast(schema)


def chunks(rows: int, seed: int):
    for index, first in enumerate(range(0, rows, CHUNK_ROWS)):
        yield _plain_strings(chunk(index, min(CHUNK_ROWS, rows - first), rows, seed))


def write(rows: int, out: str | Path, *, seed: int = 7, partitioned: bool = False, row_group_rows: int | None = None) -> Path:
    """Write `rows` charges to `out` (a file, or a hive-partitioned directory by month); atomically."""
    out = Path(out)
    row_group_rows = row_group_rows or min(250_000, max(10_000, rows // 20))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if partitioned:
            for i, table in enumerate(chunks(rows, seed)):
                months = np.asarray(table.column("created_at").combine_chunks().cast(pa.timestamp("us")).to_numpy(), "datetime64[M]").astype(str)
                table = table.append_column("month", pa.array(months))
                for month in np.unique(months):
                    part = table.filter(pc.equal(table.column("month"), month)).drop_columns(["month"])
                    folder = tmp / f"month={month}"
                    folder.mkdir(exist_ok=True)
                    pq.write_table(part, folder / f"part-{i:05d}.parquet", row_group_size=row_group_rows)
            target = tmp
        else:
            target = tmp / "data.parquet"
            writer = None
            for table in chunks(rows, seed):
                if writer is None:
                    writer = pq.ParquetWriter(target, table.schema)
                writer.write_table(table, row_group_size=row_group_rows)
            writer.close()
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()
        os.replace(target, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--partitioned", action="store_true", help="write a directory partitioned by month")
    args = parser.parse_args(argv)
    path = write(args.rows, args.out, seed=args.seed, partitioned=args.partitioned)
    print(f"wrote {args.rows:,} charges to {path}")


if __name__ == "__main__":
    main()
