//! `sangam match` as an analyst meets it: a CSV with the column names departments use, no
//! configuration, and an output that puts the same people together; explanations that never
//! show a whole ID number; and one clear error line for files it cannot use.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{assert_one_clear_error, run, sangam, stderr};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sangam_synth::{Generator, GeneratorConfig, noisy_copy};

const HEADER: &str =
    "Beneficiary ID,Name,Father/Husband Name,Gender,DOB,Aadhaar No,Mobile,Village Code";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A beneficiary list: one in three residents of `households` households (a scheme enrols
/// some members of a family, rarely all), one in four of them entered a second time with
/// another spelling, date layout or no ID number. Returns the person of each record id.
fn write_list(path: &Path, households: u64, seed: u64) -> HashMap<String, u64> {
    let generator = Generator::new(GeneratorConfig {
        seed,
        households,
        ..Default::default()
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut truth = HashMap::new();
    let mut lines = vec![HEADER.to_string()];
    let mut n = 0;
    for household in generator.households() {
        let village = household.village.village_code.to_string();
        for (i, member) in household.members.iter().enumerate() {
            if !(household.index as usize + i).is_multiple_of(3) {
                continue;
            }
            n += 1;
            let id = format!("R{n:05}");
            truth.insert(id.clone(), member.person_id);
            lines.push(
                [
                    id,
                    csv_field(&member.name),
                    csv_field(&member.relative_name),
                    member.gender.code().to_string(),
                    member.dob.to_string(),
                    member.id_number.clone().unwrap_or_default(),
                    member.mobile.clone().unwrap_or_default(),
                    village.clone(),
                ]
                .join(","),
            );
            if (n + i).is_multiple_of(4) {
                n += 1;
                let copy = noisy_copy(&mut rng, member, 0.6);
                let id = format!("R{n:05}");
                truth.insert(id.clone(), member.person_id);
                lines.push(
                    [
                        id,
                        csv_field(&copy.name),
                        csv_field(&copy.relative_name.unwrap_or_default()),
                        copy.gender
                            .map(|g| g.code().to_string())
                            .unwrap_or_default(),
                        copy.dob.unwrap_or_default(),
                        copy.id_number.unwrap_or_default(),
                        copy.mobile.unwrap_or_default(),
                        village.clone(),
                    ]
                    .join(","),
                );
            }
        }
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    truth
}

/// `id → (cluster_id, probability)` from an output file, checking its header.
fn read_output(path: &Path) -> HashMap<String, (String, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,cluster_id,match_probability"));
    lines
        .map(|l| {
            let parts: Vec<&str> = l.split(',').collect();
            assert_eq!(parts.len(), 3, "{l}");
            let p: f64 = parts[2].parse().unwrap();
            assert!((0.0..=1.0).contains(&p), "{l}");
            (parts[0].to_string(), (parts[1].to_string(), p))
        })
        .collect()
}

/// Pairwise precision and recall of clusters against the truth.
fn precision_recall(
    out: &HashMap<String, (String, f64)>,
    truth: &HashMap<String, u64>,
) -> (f64, f64) {
    let ids: Vec<&String> = truth.keys().collect();
    let (mut tp, mut predicted, mut actual) = (0.0, 0.0, 0.0);
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let same_person = truth[*a] == truth[*b];
            let same_cluster = out[*a].0 == out[*b].0;
            actual += f64::from(u8::from(same_person));
            predicted += f64::from(u8::from(same_cluster));
            tp += f64::from(u8::from(same_person && same_cluster));
        }
    }
    (tp / predicted.max(1.0), tp / actual.max(1.0))
}

#[test]
fn a_beneficiary_list_is_deduplicated_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("pension.csv");
    let truth = write_list(&list, 400, 5);
    let out = dir.path().join("out.csv");
    let o = run(sangam()
        .args(["match", "--reference-date", "2026-11-01", "--left"])
        .arg(&list)
        .arg("--out")
        .arg(&out));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    for (header, role) in [
        ("Beneficiary ID", "record_id"),
        ("Aadhaar No", "id_number"),
        ("Father/Husband Name", "relative_name"),
        ("DOB", "birth_date"),
        ("Village Code", "village_code"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(header) && l.trim_end().ends_with(role)),
            "{header} -> {role} in:\n{err}"
        );
    }
    let output = read_output(&out);
    assert_eq!(output.len(), truth.len(), "one row per record");
    let (precision, recall) = precision_recall(&output, &truth);
    assert!(
        precision >= 0.95 && recall >= 0.9,
        "precision {precision:.3}, recall {recall:.3}\n{err}"
    );
    // Cluster ids are record ids of the same file.
    assert!(output.values().all(|(c, _)| output.contains_key(c)));
}

#[test]
fn two_lists_are_linked_and_explained_without_showing_an_id_number() {
    let dir = tempfile::tempdir().unwrap();
    let left = dir.path().join("left.csv");
    let right = dir.path().join("right.csv");
    // The same households, differently noised: ids collide across the files on purpose.
    write_list(&left, 60, 8);
    write_list(&right, 60, 8);
    let text = std::fs::read_to_string(&right).unwrap();
    let first_data_row: Vec<String> = text
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let id_number = first_data_row[5].clone();
    assert_eq!(id_number.len(), 12, "the first member has an ID number");

    let out = dir.path().join("out.csv");
    let o = run(sangam()
        .args(["match", "--reference-date", "2026-11-01", "--left"])
        .arg(&left)
        .arg("--right")
        .arg(&right)
        .arg("--out")
        .arg(&out)
        .args(["--explain", "R00001", "R00002"]));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("left:ID and right:ID"), "{err}");
    let output = read_output(&out);
    assert!(
        output
            .keys()
            .all(|k| k.starts_with("left:") || k.starts_with("right:"))
    );
    assert_eq!(
        output["left:R00001"].0, output["right:R00001"].0,
        "the same first member in both files is one person"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("R00001 and R00002"), "{stdout}");
    assert!(stdout.contains("match probability"), "{stdout}");
    assert!(
        stdout.contains(&format!("XXXXXXXX{}", &id_number[8..])),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&id_number) && !err.contains(&id_number),
        "a whole ID number was printed"
    );
}

#[test]
fn files_it_cannot_use_get_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let out = dir.path().join("out.csv");
    let go = |path: &Path, extra: &[&str]| {
        run(sangam()
            .args(["match", "--left"])
            .arg(path)
            .arg("--out")
            .arg(&out)
            .args(extra))
    };
    assert_one_clear_error(&go(&file("empty.csv", ""), &[]), "empty");
    assert_one_clear_error(&go(&file("header.csv", "name,dob\n"), &[]), "no records");
    assert_one_clear_error(
        &go(&file("binary.csv", "\u{0}\u{1}\u{2}garbage\u{0}"), &[]),
        "binary",
    );
    let o = go(&file("unknown.csv", "colour,size\nred,9\n"), &[]);
    assert_one_clear_error(&o, "no column was recognised (colour, size)");
    assert!(
        stderr(&o).contains("given_name"),
        "the message lists the roles it knows"
    );
    assert_one_clear_error(
        &go(
            &file("dupes.csv", "id,name\n1,Ravi\n2,Ravi K\n1,Gopal\n"),
            &[],
        ),
        "line 4: record id \"1\" is used again (first on line 2)",
    );
    assert_one_clear_error(
        &go(&file("noid.csv", "name\nRavi\n"), &["--id-column", "code"]),
        "there is no column \"code\"",
    );
    let config = file("bad.toml", "[columns]\nnaam = \"nickname\"\n");
    let o = run(sangam()
        .args(["match", "--config"])
        .arg(&config)
        .arg("--left")
        .arg(file("naam.csv", "naam\nRavi\n"))
        .arg("--out")
        .arg(&out));
    assert_one_clear_error(&o, "unknown role \"nickname\"");
    assert_one_clear_error(
        &go(&file("ok.csv", "name\nRavi\n"), &["--threshold", "3"]),
        "between 0 and 1",
    );
}

#[test]
fn odd_but_usable_files_are_matched_and_what_was_odd_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.csv");
    let long = "x".repeat(5_000);
    let enormous = "y".repeat(2_000_000);
    let body = format!(
        "\u{feff}sl_no;name;date_of_birth;sex\n\
         1;Lakshmi Devi;12-04-1980;F\n\
         2;Laxmi Devy;1980-04-12;F\n\
         3;रमेश कुमार;19750601;M\n\
         4;रमेश कुमार;01/06/1975;M\n\
         5;{long};1990;M\n\
         6;Gopal;46;M\n\
         7;Fathima Beevi;1962;F\n\
         8;{enormous};1962;F\n"
    );
    std::fs::write(&path, body).unwrap();
    let out = dir.path().join("out.csv");
    let o = run(sangam()
        .args(["match", "--reference-date", "2026-11-01", "--left"])
        .arg(&path)
        .arg("--out")
        .arg(&out));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("1 values longer than 1000 bytes were cut"),
        "{err}"
    );
    let output = read_output(&out);
    assert_eq!(output.len(), 7);
    // Without an id column, ids are the row numbers.
    assert_eq!(output["1"].0, output["2"].0, "Lakshmi Devi / Laxmi Devy");
    assert_eq!(
        output["3"].0, output["4"].0,
        "the same Devanagari name and date"
    );
    assert_ne!(output["1"].0, output["3"].0);
    assert_ne!(output["5"].0, output["6"].0);
}
