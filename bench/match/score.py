#!/usr/bin/env python3
"""Pairwise precision, recall and F1 of a matcher's clusters against ground truth.

    score.py OUT.csv TRUTH.csv [--link LEFT.csv RIGHT.csv] [--id-column COL]

OUT.csv: `id,cluster_id,...` (one row per input record; other columns are ignored).
TRUTH.csv: `id,person_id`.

De-duplication (no --link): a true pair is two records of the same person, a predicted pair two
records with the same cluster_id. Linkage (--link): only pairs with one record from each file
count; LEFT and RIGHT say which file each id came from (their `id` column, or --id-column).

Pairs are counted per group, never listed: for each (cluster, person) cell with n records
(n_left and n_right in linkage), the cell holds C(n, 2) (n_left * n_right) true positives, and
likewise per cluster for the predicted pairs and per person for the true pairs. So 700,000
records score in seconds.

Prints one JSON object on stdout: records, true_pairs, predicted_pairs, true_positives,
precision, recall, f1.
"""

import argparse
import json
import sys

import pandas as pd


def fail(message: str) -> None:
    sys.exit(f"score.py: {message}")


def read_columns(path: str, columns: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda c: c in columns)
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except pd.errors.EmptyDataError:
        fail(f"{path}: empty file")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        fail(f"{path}: no column {', '.join(missing)} (has: {', '.join(frame.columns)})")
    return frame


def pairs_dedupe(counts: pd.Series) -> int:
    n = counts.astype("int64")
    return int((n * (n - 1) // 2).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("truth")
    parser.add_argument("--link", nargs=2, metavar=("LEFT", "RIGHT"))
    parser.add_argument("--id-column", default="id", help="id column of LEFT and RIGHT (default: id)")
    args = parser.parse_args()

    out = read_columns(args.out, ["id", "cluster_id"])
    truth = read_columns(args.truth, ["id", "person_id"])
    if out["id"].duplicated().any():
        fail(f"{args.out}: id {out['id'][out['id'].duplicated()].iloc[0]!r} appears twice")
    if truth["id"].duplicated().any():
        fail(f"{args.truth}: id {truth['id'][truth['id'].duplicated()].iloc[0]!r} appears twice")
    if (out["cluster_id"] == "").any():
        fail(f"{args.out}: a row has an empty cluster_id")

    if args.link:
        left = read_columns(args.link[0], [args.id_column])[args.id_column]
        right = read_columns(args.link[1], [args.id_column])[args.id_column]
        overlap = set(left) & set(right)
        if overlap:
            fail(f"ids must be unique across the two files; {sorted(overlap)[0]!r} is in both")
        side = pd.concat(
            [pd.DataFrame({"id": left, "left": 1}), pd.DataFrame({"id": right, "left": 0})],
            ignore_index=True,
        )
        expected = set(side["id"])
    else:
        expected = set(truth["id"])

    got = set(out["id"])
    if got != expected:
        absent, extra = expected - got, got - expected
        if absent:
            fail(f"{args.out} lacks {len(absent)} input records, e.g. {sorted(absent)[0]!r}")
        fail(f"{args.out} has {len(extra)} ids that are not input records, e.g. {sorted(extra)[0]!r}")
    no_truth = expected - set(truth["id"])
    if no_truth:
        fail(f"{args.truth} has no person for {len(no_truth)} records, e.g. {sorted(no_truth)[0]!r}")

    frame = out[["id", "cluster_id"]].merge(truth, on="id", how="inner", validate="one_to_one")

    if args.link:
        frame = frame.merge(side, on="id", how="inner", validate="one_to_one")
        frame["right"] = 1 - frame["left"]

        def link_pairs(keys: list[str]) -> int:
            sides = frame.groupby(keys, sort=False)[["left", "right"]].sum()
            return int((sides["left"].astype("int64") * sides["right"].astype("int64")).sum())

        true_pairs = link_pairs(["person_id"])
        predicted = link_pairs(["cluster_id"])
        tp = link_pairs(["cluster_id", "person_id"])
    else:
        true_pairs = pairs_dedupe(frame.groupby("person_id", sort=False).size())
        predicted = pairs_dedupe(frame.groupby("cluster_id", sort=False).size())
        tp = pairs_dedupe(frame.groupby(["cluster_id", "person_id"], sort=False).size())

    precision = tp / predicted if predicted else 0.0
    recall = tp / true_pairs if true_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        json.dumps(
            {
                "records": len(frame),
                "true_pairs": true_pairs,
                "predicted_pairs": predicted,
                "true_positives": tp,
                "precision": round(precision, 6),
                "recall": round(recall, 6),
                "f1": round(f1, 6),
            }
        )
    )


if __name__ == "__main__":
    main()
