"""Writes the two small Parquet files of real-world column types that the tests read,
with writers other than hypernodes: `typed_pyarrow.parquet` (pyarrow, as pandas
exports write) and `typed_duckdb.parquet` (DuckDB's COPY ... TO). Both hold the same 12
rows, nulls included (DuckDB's adds an interval column). Run once; the files are committed:

    pip install pyarrow duckdb
    python3 data/make_typed.py

The tests check hypernodes' reads of these files against DataFusion SQL over the same
files (tests/it/real_files.rs).
"""

import datetime as dt
import decimal
import pathlib
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).parent
ROWS = 12

D = decimal.Decimal


def column(values, nulls_at):
    """`values` with None at the positions in `nulls_at`."""
    return [None if i in nulls_at else v for i, v in enumerate(values)]


def table():
    utc = dt.timezone.utc
    start = dt.datetime(2024, 2, 28, 22, 30, 15, 123456)
    ts = [start + dt.timedelta(hours=7 * i, microseconds=i) for i in range(ROWS)]
    categories = ["Books", " books", "TOYS", "Toys ", "home & garden", "Books"]
    return pa.table(
        {
            "id": pa.array(range(ROWS), pa.int64()),
            "day": pa.array(column([t.date() for t in ts], {3}), pa.date32()),
            # pandas' default unit; whole microseconds so that every reader agrees.
            "ts_ns": pa.array(column(ts, {5}), pa.timestamp("ns")),
            "ts_utc": pa.array([t.replace(tzinfo=utc) for t in ts], pa.timestamp("us", tz="UTC")),
            "ts_ny": pa.array([t.replace(tzinfo=utc) for t in ts], pa.timestamp("ms", tz="America/New_York")),
            "clock": pa.array(column([t.time() for t in ts], {7}), pa.time64("us")),
            "amount": pa.array(
                column([(D("12345.67") * (i - 4) / 7).quantize(D("0.01")) for i in range(ROWS)], {2}),
                pa.decimal128(12, 2),
            ),
            "balance": pa.array(
                [D("-99999999999999.99999") + D(i) * D("1234567.00001") for i in range(ROWS)],
                pa.decimal256(40, 5),
            ),
            "category": pa.array([categories[i % len(categories)] for i in range(ROWS)]).dictionary_encode(),
            "note": pa.array(column([f"note {i}" for i in range(ROWS)], {0, 4, 8})),
            "uid": pa.array([uuid.UUID(int=i * 0x1234567890ABCDEF).bytes for i in range(ROWS)], pa.binary(16)),
            "payload": pa.array(column([bytes(range(i)) for i in range(ROWS)], {9}), pa.binary()),
            "embedding": pa.array(
                [[i / 4, -i / 8, 0.5, float(i)] for i in range(ROWS)], pa.list_(pa.float32(), 4)
            ),
            "tags": pa.array(column([[f"t{j}" for j in range(i % 3)] for i in range(ROWS)], {10}), pa.list_(pa.string())),
            "attrs": pa.array(
                column([[(f"k{j}", i * j) for j in range(i % 3)] for i in range(ROWS)], {11}),
                pa.map_(pa.string(), pa.int64()),
            ),
        }
    )


def main():
    t = table()
    # The data types need not be rounded: pandas' nanosecond timestamps are written as
    # nanoseconds (Parquet 2.6).
    pq.write_table(t, HERE / "typed_pyarrow.parquet", version="2.6", compression="snappy")
    import duckdb

    con = duckdb.connect()
    # DuckDB reads no Decimal256 from Arrow: the balance goes in as text.
    at = t.schema.get_field_index("balance")
    # DuckDB reads no Decimal256 from Arrow: the balance goes in as text; the ids as
    # UUID text, which DuckDB casts to its UUID type.
    t = t.set_column(at, "balance", t["balance"].cast(pa.string()))
    uids = [str(uuid.UUID(bytes=b)) for b in t["uid"].to_pylist()]
    t = t.set_column(t.schema.get_field_index("uid"), "uid", pa.array(uids))
    con.register("t", t)
    # DuckDB's own types: DATE, TIMESTAMP (µs), TIMESTAMPTZ, TIME, DECIMAL(12,2) (stored
    # as INT64), DECIMAL(38,5), an ENUM written as dictionary-encoded strings, UUID (a
    # 16-byte fixed-size binary), BLOB, FLOAT[4], VARCHAR[], MAP(VARCHAR, BIGINT) and
    # INTERVAL.
    con.execute(
        """
        COPY (
            SELECT id, day, ts_ns::TIMESTAMP AS ts, ts_utc::TIMESTAMPTZ AS ts_utc, clock,
                   amount, balance::DECIMAL(38, 5) AS balance,
                   category::ENUM('Books', ' books', 'TOYS', 'Toys ', 'home & garden') AS category,
                   note, uid::UUID AS uid, payload, embedding::FLOAT[4] AS embedding, tags,
                   attrs, to_hours(id) + to_days(id % 2) + to_months(id % 3) AS wait
            FROM t ORDER BY id
        ) TO '{}' (FORMAT parquet)
        """.format(HERE / "typed_duckdb.parquet")
    )


if __name__ == "__main__":
    main()
