"""Polars' own expressions for the workloads of shared/bench/WORKLOADS.md, the reference
the README and the issue notes compare hypernodes with.

    pip install polars numpy
    python3 benches/polars_reference.py w1              # in memory, 100 .. 1,000,000 rows
    python3 benches/polars_reference.py w2 IN.parquet   # the passages of IN, in memory
    python3 benches/polars_reference.py w3 IN.parquet OUT.parquet   # one whole W3 job
                                                  # (IN may be .csv or .ndjson too)
    python3 benches/polars_reference.py check OUT.parquet   # its WORKLOADS.md checksum
    python3 benches/polars_reference.py w8 EVENTS.parquet OUT.parquet   # one whole W8 job
    python3 benches/polars_reference.py check8 OUT.parquet  # W8's checksum (either system's)

IN and OUT may be `s3://bucket/key` URLs: Polars then reads the endpoint and credentials
from the standard AWS_* variables, as hypernodes does (AWS_ENDPOINT_URL for a local
S3-compatible server).

`w1` prints the median of repeated runs per size, like criterion. `w3` is meant to be
timed from outside as a whole process (`/usr/bin/time -v python3 ... w3 ...`), import
of Polars included, as `hypernodes run` is; `check` prints the checksum of its output
(integers exact; floats summed in Polars' order, so the last digits may differ).
"""

import os
import statistics
import sys
import time

import polars as pl


def storage(path):
    """Polars' storage options for an s3:// path, from the standard AWS_* variables."""
    if not path.startswith("s3://"):
        return None
    keys = {
        "AWS_ENDPOINT_URL": "aws_endpoint_url",
        "AWS_ACCESS_KEY_ID": "aws_access_key_id",
        "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
        "AWS_REGION": "aws_region",
        "AWS_ALLOW_HTTP": "aws_allow_http",
    }
    return {option: os.environ[var] for var, option in keys.items() if var in os.environ}


def w1():
    for n in [100, 1_000, 10_000, 100_000, 1_000_000]:
        frame = pl.DataFrame({"x": pl.int_range(0, n, eager=True, dtype=pl.Int64)})
        query = (
            frame.lazy()
            .with_columns(doubled=pl.col("x") * 2)
            .with_columns(incremented=pl.col("doubled") + 1)
            .with_columns(squared=pl.col("incremented") * pl.col("incremented"))
        )
        times = []
        deadline = time.perf_counter() + 3.0
        while len(times) < 10 or (time.perf_counter() < deadline and len(times) < 1000):
            start = time.perf_counter()
            out = query.collect()
            times.append(time.perf_counter() - start)
        assert out["squared"][n - 1] == (2 * (n - 1) + 1) ** 2
        print(f"w1/polars_expressions/{n}: median {statistics.median(times) * 1e3:.4f} ms over {len(times)} runs")


def w2(source):
    frame = pl.read_parquet(source, columns=["passage"])
    query = (
        frame.lazy()
        .with_columns(cleaned_text=pl.col("passage").str.strip_chars().str.to_lowercase())
        .with_columns(
            word_count=pl.col("cleaned_text").str.count_matches(r"\S+"),
            char_count=pl.col("cleaned_text").str.len_chars(),
        )
    )
    times = []
    deadline = time.perf_counter() + 10.0
    while len(times) < 10 or (time.perf_counter() < deadline and len(times) < 100):
        start = time.perf_counter()
        out = query.collect()
        times.append(time.perf_counter() - start)
    words = out["word_count"].sum()
    print(f"w2/polars_expressions/{frame.height}: median {statistics.median(times) * 1e3:.2f} ms over {len(times)} runs (word_count sum {words})")


def w3(source, target):
    if source.endswith(".csv"):
        scan = pl.scan_csv(source)
    elif source.endswith(".ndjson"):
        scan = pl.scan_ndjson(source)
    else:
        scan = pl.scan_parquet(source, storage_options=storage(source))
    out = (
        scan
        .with_columns(cleaned_text=pl.col("passage").str.strip_chars().str.to_lowercase())
        .with_columns(word_count=pl.col("cleaned_text").str.count_matches(r"\S+").cast(pl.Int64))
        .with_columns(score=pl.col("value") * pl.col("word_count"))
        .select("id", "word_count", "score")
    )
    out.sink_parquet(target, storage_options=storage(target))


def check(target):
    written = pl.scan_parquet(target, storage_options=storage(target)).select(
        integers=pl.col("id").sum() + pl.col("word_count").sum(), floats=pl.col("score").sum()
    )
    row = written.collect().row(0)
    print(f"{target}: checksum integers {row[0]}, floats {row[1]:.6f}")


# W8's bound exchange rate (docs/performance.md).
W8_RATE = "1.0837"


def w8(source, target):
    """W8 over the typed data set (`hypernodes gen-data --set events`): the hour of each
    timestamp, the amount converted at a bound rate and rounded to cents (half to even,
    as Polars' `round` on decimals and rust_decimal's `round_dp` do), the category
    normalised; `note` passed on."""
    from decimal import Decimal

    rate = pl.lit(Decimal(W8_RATE), dtype=pl.Decimal(10, 4))
    out = pl.scan_parquet(source).select(
        "id",
        hour=pl.col("ts").dt.truncate("1h"),
        amount_eur=(pl.col("amount") * rate).round(2),
        category_clean=pl.col("category").cast(pl.String).str.strip_chars().str.to_lowercase(),
        note=pl.col("note"),
    )
    out.sink_parquet(target)


def check8(target):
    """W8's checksum: rows, the exact sum of `amount_eur`, the sum of `hour` in epoch
    seconds, the distinct `category_clean` values and the non-null notes."""
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(target)
    amounts = sum((Decimal(str(v)) for v in t["amount_eur"].to_pylist() if v is not None), Decimal(0))
    hours = pc.sum(pc.divide(pc.cast(pc.cast(t["hour"], pa.timestamp("us", tz="UTC")), "int64"), 1_000_000)).as_py()
    categories = sorted(set(t["category_clean"].to_pylist()))
    notes = len(t) - t["note"].null_count
    print(
        f"{target}: {len(t)} rows, amount_eur sum {amounts.normalize():f}, hour sum {hours} s, "
        f"categories {categories}, {notes} notes"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["w1"]:
        w1()
    elif sys.argv[1:2] == ["w2"] and len(sys.argv) == 3:
        w2(sys.argv[2])
    elif sys.argv[1:2] == ["w3"] and len(sys.argv) == 4:
        w3(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["check"] and len(sys.argv) == 3:
        check(sys.argv[2])
    elif sys.argv[1:2] == ["w8"] and len(sys.argv) == 4:
        w8(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["check8"] and len(sys.argv) == 3:
        check8(sys.argv[2])
    else:
        sys.exit(__doc__)
