#!/usr/bin/env python3
"""Runs Splink 4 (DuckDB backend) on one benchmark data set and writes its clusters.

    splink_run.py --left A.csv [--right B.csv] --out OUT.csv [--id-column id]
                  [--profile auto|febrl|indian] [--threshold 0.9] [--max-pairs 1e7]

One file: de-duplication (link_type dedupe_only). Two files: linkage (link_only); ids must be
unique across the two files. OUT has one row per input record, `id,cluster_id,match_probability`,
the same format `sangam match` writes: records Splink puts together share a cluster_id, and
match_probability is the highest probability of any pair the record was clustered through
(empty for a record left on its own).

The model is set up per profile (chosen from the column names unless given), as a careful
Splink user would set it up for that data without looking at the truth: see README.md for the
settings and the reasons for them. The threshold is fixed in advance (0.9, see README.md), not
tuned on the truth.

Prints the total wall time and each Splink phase's time to stderr.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

# Ages in the Indian data are declared ages as of the data's collection year; a user would know
# that year from the data's provenance (the generator's reference date is 2026-11-01).
COLLECTION_YEAR = 2026
# Honorifics a clerk may type before a name. Not "md" (it stands for Mohammed) nor "sri"
# (part of many given names).
HONORIFICS = ["shri", "smt", "mr", "mrs", "ms", "kumari", "kum", "late", "dr", "thiru", "tmt"]

FEBRL_COLUMNS = {"given_name", "surname", "date_of_birth", "soc_sec_id", "postcode"}
INDIAN_COLUMNS = {"name", "relative_name", "dob", "gender", "id_number", "mobile", "pincode"}

started = time.perf_counter()


def log(message: str) -> None:
    print(f"splink_run: {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    sys.exit(f"splink_run: {message}")


class Phases:
    """Wall time of each named phase, printed as it ends and summed at the end."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    def run(self, name, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = time.perf_counter() - t0
        self.times.append((name, elapsed))
        log(f"phase {name}: {elapsed:.2f} s")
        return result


# ---------------------------------------------------------------------------------------------
# Loading and feature engineering (in DuckDB SQL: the same cleaning for both files)


def sql_clean_name(column: str) -> str:
    """Lowercase letters and single spaces, honorifics dropped; NULL when nothing is left."""
    letters = f"regexp_replace(lower(coalesce({column}, '')), '[^a-z]+', ' ', 'g')"
    tokens = f"list_filter(string_split(trim({letters}), ' '), t -> t <> '' and t not in {tuple(HONORIFICS)!r})"
    return f"nullif(array_to_string({tokens}, ' '), '')"


def indian_features(table: str, columns: set[str]) -> str:
    def col(name: str) -> str:
        return f"nullif(trim({name}), '')" if name in columns else "NULL::varchar"

    dob = col("dob")
    dob_date = f"""case
        when regexp_full_match({dob}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') then try_strptime({dob}, '%Y-%m-%d')::date
        when regexp_full_match({dob}, '\\d{{8}}') then try_strptime({dob}, '%Y%m%d')::date
        when regexp_full_match({dob}, '\\d{{1,2}}[/.-]\\d{{1,2}}[/.-]\\d{{4}}')
            then try_strptime(regexp_replace({dob}, '[/.]', '-', 'g'), '%d-%m-%Y')::date
        end"""
    # Year only, a declared age, or the year of a full date.
    birth_year = f"""case
        when regexp_full_match(dob_raw, '\\d{{4}}') then try_cast(dob_raw as integer)
        when regexp_full_match(dob_raw, '\\d{{1,3}}') then {COLLECTION_YEAR} - try_cast(dob_raw as integer)
        else year(dob_date) end"""
    return f"""
    with cleaned as (
        select
            id::varchar as id,
            {sql_clean_name(col('name'))} as name_clean,
            {sql_clean_name(col('relative_name'))} as rel_clean,
            upper(substr({col('gender')}, 1, 1)) as gender,
            {dob_date} as dob_date,
            {dob} as dob_raw,
            regexp_replace({col('id_number')}, '[^0-9]', '', 'g') as id_number,
            right(regexp_replace({col('mobile')}, '[^0-9]', '', 'g'), 10) as mobile,
            {col('village_code')} as village_code,
            {col('pincode')} as pincode
        from {table}
    )
    select
        id, name_clean, rel_clean, gender, dob_date,
        nullif(id_number, '') as id_number,
        nullif(mobile, '') as mobile,
        village_code, pincode,
        -- Token order ignored ("Ramesh K" = "K Ramesh"), and spaces ignored ("Ramkumar").
        array_to_string(list_sort(string_split(name_clean, ' ')), ' ') as name_sorted,
        replace(name_clean, ' ', '') as name_joined,
        list_filter(string_split(name_clean, ' '), t -> length(t) > 1) as name_tokens,
        array_to_string(list_sort(string_split(rel_clean, ' ')), ' ') as rel_sorted,
        list_filter(string_split(rel_clean, ' '), t -> length(t) > 1) as rel_tokens,
        -- First three letters of the alphabetically first full (non-initial) token: a
        -- blocking key that survives initials and token swaps.
        substr(list_sort(list_filter(string_split(name_clean, ' '), t -> length(t) > 1))[1], 1, 3) as name_key,
        strftime(dob_date, '%Y-%m-%d') as dob_iso,
        {birth_year} as birth_year
    from cleaned
    """


def febrl_features(table: str, columns: set[str]) -> str:
    def col(name: str) -> str:
        return f"nullif(lower(trim({name}::varchar)), '')" if name in columns else "NULL::varchar"

    return f"""
    select
        id::varchar as id,
        {col('given_name')} as given_name,
        {col('surname')} as surname,
        {col('street_number')} as street_number,
        {col('address_1')} as address_1,
        {col('suburb')} as suburb,
        {col('postcode')} as postcode,
        {col('state')} as state,
        -- FEBRL writes dates as YYYYMMDD. Splink 4.0's DateOfBirthComparison applies a custom
        -- datetime_format only to its null level, not to its date-difference levels, so the
        -- dates are given to it as ISO strings; an unparseable date stays as it was (the
        -- comparison then treats it as missing).
        coalesce(strftime(try_strptime({col('date_of_birth')}, '%Y%m%d'), '%Y-%m-%d'),
                 {col('date_of_birth')}) as date_of_birth,
        {col('soc_sec_id')} as soc_sec_id
    from {table}
    """


# ---------------------------------------------------------------------------------------------
# Models


def name_comparison(prefix: str, label: str) -> cl.CustomComparison:
    """Levels for a full Indian name: exact, token order, joined tokens, Jaro-Winkler on either
    form, a shared token, else. Term frequencies on the exact level."""
    clean, sorted_, joined, tokens = f"{prefix}_clean", f"{prefix}_sorted", None, f"{prefix}_tokens"
    levels = [
        cll.NullLevel(clean),
        cll.ExactMatchLevel(clean).configure(tf_adjustment_column=clean),
        cll.ExactMatchLevel(sorted_),
    ]
    if prefix == "name":
        joined = "name_joined"
        levels.append(cll.ExactMatchLevel(joined))
    levels += [
        cll.CustomLevel(
            f"jaro_winkler_similarity({clean}_l, {clean}_r) >= 0.92 or "
            f"jaro_winkler_similarity({sorted_}_l, {sorted_}_r) >= 0.92",
            label_for_charts="Jaro-Winkler >= 0.92",
        ),
        cll.CustomLevel(
            f"jaro_winkler_similarity({clean}_l, {clean}_r) >= 0.8 or "
            f"jaro_winkler_similarity({sorted_}_l, {sorted_}_r) >= 0.8",
            label_for_charts="Jaro-Winkler >= 0.8",
        ),
        cll.ArrayIntersectLevel(tokens, 1),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name=label)


def indian_settings(link_type: str) -> tuple[SettingsCreator, list, list]:
    comparisons = [
        name_comparison("name", "name"),
        name_comparison("rel", "relative_name"),
        cl.CustomComparison(
            [
                cll.NullLevel("birth_year"),
                cll.ExactMatchLevel("dob_date"),
                cll.CustomLevel(
                    "strftime(dob_date_l, '%Y-%d-%m') = strftime(dob_date_r, '%Y-%m-%d')",
                    label_for_charts="day and month swapped",
                ),
                cll.DamerauLevenshteinLevel("dob_iso", 1),
                cll.ExactMatchLevel("birth_year"),
                cll.AbsoluteDifferenceLevel("birth_year", 1),
                cll.AbsoluteDifferenceLevel("birth_year", 3),
                cll.ElseLevel(),
            ],
            output_column_name="dob",
        ),
        cl.ExactMatch("gender"),
        cl.DamerauLevenshteinAtThresholds("id_number", [1]),
        cl.ExactMatch("mobile").configure(term_frequency_adjustments=True),
        # Village and pincode together: the pincode follows from the village, so two separate
        # comparisons would count the same evidence twice.
        cl.CustomComparison(
            [
                cll.CustomLevel(
                    "(village_code_l is null or village_code_r is null) and "
                    "(pincode_l is null or pincode_r is null)",
                    label_for_charts="no place",
                ).configure(is_null_level=True),
                cll.ExactMatchLevel("village_code"),
                cll.ExactMatchLevel("pincode"),
                cll.ElseLevel(),
            ],
            output_column_name="place",
        ),
    ]
    blocking = [
        block_on("id_number"),
        block_on("mobile"),
        block_on("name_sorted"),
        block_on("dob_date"),
        block_on("pincode", "birth_year"),
        block_on("rel_sorted"),
        block_on("pincode", "name_key"),
    ]
    deterministic = [block_on("id_number"), block_on("name_sorted", "dob_date")]
    em_rules = [block_on("id_number"), block_on("dob_date"), block_on("name_sorted")]
    settings = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    return settings, deterministic, em_rules


def febrl_settings(link_type: str) -> tuple[SettingsCreator, list, list]:
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("address_1", [0.92, 0.8]),
        # Suburb and state follow from the postcode; comparing them too would count the same
        # evidence again.
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
    ]
    blocking = [
        block_on("soc_sec_id"),
        block_on("given_name"),
        block_on("surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("postcode"),
        block_on("street_number", "address_1"),
    ]
    deterministic = [
        block_on("soc_sec_id"),
        block_on("given_name", "surname", "date_of_birth"),
    ]
    em_rules = [block_on("date_of_birth"), block_on("postcode"), block_on("given_name", "surname")]
    settings = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    return settings, deterministic, em_rules


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--left", required=True, type=Path)
    parser.add_argument("--right", type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--profile", choices=["auto", "febrl", "indian"], default="auto")
    parser.add_argument("--threshold", type=float, default=0.9, help="match probability to cluster at")
    parser.add_argument("--max-pairs", type=float, default=1e7, help="pairs sampled to estimate u")
    parser.add_argument("--recall", type=float, default=0.8,
                        help="assumed recall of the deterministic rules that estimate the prior")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model-out", type=Path, help="also save the trained model (Splink JSON) here")
    args = parser.parse_args()
    if not 0 < args.threshold < 1:
        fail("--threshold must be between 0 and 1")

    # Splink's INFO log is long; its warnings still show.
    logging.basicConfig(level=logging.WARNING, format="splink: %(message)s")
    phases = Phases()
    con = duckdb.connect()
    files = [args.left] + ([args.right] if args.right else [])
    raw_columns: list[set[str]] = []

    def load() -> None:
        for i, path in enumerate(files):
            if not path.is_file():
                fail(f"{path}: no such file")
            con.execute(
                f"create table raw_{i} as select * from read_csv(?, header = true, all_varchar = true)",
                [str(path)],
            ).fetchall()
            columns = {r[0] for r in con.execute(f"describe raw_{i}").fetchall()}
            if args.id_column not in columns:
                fail(f"{path}: no id column {args.id_column!r} (has: {', '.join(sorted(columns))})")
            if args.id_column != "id":
                if "id" in columns:
                    fail(f"{path}: has both 'id' and --id-column {args.id_column!r}")
                con.execute(f'alter table raw_{i} rename column "{args.id_column}" to id').fetchall()
                columns = (columns - {args.id_column}) | {"id"}
            raw_columns.append(columns)

    phases.run("load", load)
    all_columns = set.union(*raw_columns)
    profile = args.profile
    if profile == "auto":
        if FEBRL_COLUMNS <= all_columns:
            profile = "febrl"
        elif {"name", "dob"} <= all_columns:
            profile = "indian"
        else:
            fail(f"cannot tell the profile from columns {sorted(all_columns)}; pass --profile")
    link_type = "link_only" if args.right else "dedupe_only"
    log(f"{link_type}, profile {profile}, threshold {args.threshold}, files {', '.join(map(str, files))}")

    features = indian_features if profile == "indian" else febrl_features
    tables = []

    def prepare() -> None:
        for i, columns in enumerate(raw_columns):
            con.execute(f"create table input_{i} as {features(f'raw_{i}', columns)}").fetchall()
            tables.append(f"input_{i}")
        all_ids = " union all ".join(f"select id from {t}" for t in tables)
        ids = con.execute(f"select id from ({all_ids}) group by id having count(*) > 1 limit 1").fetchall()
        if ids:
            fail(f"id {ids[0][0]!r} occurs more than once (ids must be unique across the files)")
        null_ids = con.execute(" union all ".join(f"select id from {t} where id is null" for t in tables)).fetchall()
        if null_ids:
            fail("a record has an empty id")

    phases.run("prepare", prepare)
    records = sum(con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)
    log(f"{records} records")

    settings, deterministic, em_rules = (indian_settings if profile == "indian" else febrl_settings)(link_type)
    db_api = DuckDBAPI(connection=con)
    linker = Linker(
        tables if len(tables) > 1 else tables[0],
        settings,
        db_api,
        set_up_basic_logging=False,
        input_table_aliases=["left", "right"][: len(tables)] if len(tables) > 1 else None,
    )
    phases.run(
        "estimate_probability_two_random_records_match",
        linker.training.estimate_probability_two_random_records_match,
        deterministic,
        recall=args.recall,
    )
    phases.run(
        "estimate_u_using_random_sampling",
        linker.training.estimate_u_using_random_sampling,
        max_pairs=args.max_pairs,
        seed=args.seed,
    )
    for rule in em_rules:
        phases.run(
            f"em[{rule.get_blocking_rule('duckdb').blocking_rule_sql if hasattr(rule, 'get_blocking_rule') else rule}]",
            linker.training.estimate_parameters_using_expectation_maximisation,
            rule,
        )
    if args.model_out:
        linker.misc.save_model_to_json(str(args.model_out), overwrite=True)
    predictions = phases.run(
        "predict", linker.inference.predict, threshold_match_probability=args.threshold
    )
    clusters = phases.run(
        "cluster",
        linker.clustering.cluster_pairwise_predictions_at_threshold,
        predictions,
        threshold_match_probability=args.threshold,
    )

    def write() -> None:
        all_ids = " union all ".join(f"select id from {t}" for t in tables)
        best = f"""
            select id, max(p) as p from (
                select id_l as id, match_probability as p from {predictions.physical_name}
                union all
                select id_r as id, match_probability as p from {predictions.physical_name}
            ) group by id"""
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # A record Splink left out of every cluster row (it should not) stays on its own.
        con.execute(
            f"""copy (
                select a.id, coalesce(c.cluster_id::varchar, a.id) as cluster_id,
                       case when s.size > 1 then round(b.p, 6) end as match_probability
                from ({all_ids}) a
                left join {clusters.physical_name} c on c.id = a.id
                left join (select cluster_id, count(*) as size from {clusters.physical_name} group by cluster_id) s
                    on s.cluster_id = c.cluster_id
                left join ({best}) b on b.id = a.id
                order by a.id
            ) to '{str(args.out).replace("'", "''")}' (header, delimiter ',')"""
        ).fetchall()
        written = con.execute(f"select count(*) from read_csv('{str(args.out).replace(chr(39), chr(39) * 2)}')").fetchone()[0]
        if written != records:
            fail(f"wrote {written} rows for {records} records")

    phases.run("write", write)
    pairs = con.execute(f"select count(*) from {predictions.physical_name}").fetchone()[0]
    n_clusters = con.execute(f"select count(distinct cluster_id) from {clusters.physical_name}").fetchone()[0]
    log(f"{pairs} pairs at or above {args.threshold}, {n_clusters} clusters")
    log(f"splink phases total {sum(t for _, t in phases.times):.2f} s; wall {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
