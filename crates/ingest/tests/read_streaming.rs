//! The readers stream: a file generated on the fly, never held whole, is read to the end with
//! memory that does not grow with it. This binary holds one test so that the process's peak
//! memory is this test's alone.

use std::io::Read;

use sangam_ingest::read::{Format, open_reader};

/// A CSV or JSON Lines body of `rows` rows of about 250 bytes, generated as it is read.
struct Body {
    json: bool,
    rows: u64,
    next: u64,
    line: Vec<u8>,
    pos: usize,
}

impl Body {
    fn new(rows: u64, json: bool) -> Self {
        let header = if json {
            Vec::new()
        } else {
            b"id_number,name,village,remark\r\n".to_vec()
        };
        Body {
            json,
            rows,
            next: 0,
            line: header,
            pos: 0,
        }
    }

    fn fill(&mut self) {
        let i = self.next;
        let remark = "x".repeat(200);
        self.line = if self.json {
            format!(
                "{{\"id_number\":\"{:012}\",\"name\":\"Name {i}\",\"village\":{},\"remark\":\"{remark}\"}}\n",
                200_000_000_000 + i,
                i % 977
            )
        } else {
            format!(
                "{:012},\"Name, {i}\",{},{remark}\r\n",
                200_000_000_000 + i,
                i % 977
            )
        }
        .into_bytes();
        self.pos = 0;
        self.next += 1;
    }
}

impl Read for Body {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.line.len() {
            if self.next == self.rows {
                return Ok(0);
            }
            self.fill();
        }
        let n = out.len().min(self.line.len() - self.pos);
        out[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The process's peak resident set, in KiB, where the system says (Linux).
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn three_hundred_thousand_rows_stream_through() {
    const ROWS: u64 = 300_000;
    let before = peak_kib();

    let (format, source) = open_reader(Some("big.csv"), Body::new(ROWS, false)).expect("opens");
    assert_eq!(format, Format::Csv);
    assert_eq!(source.header(), ["id_number", "name", "village", "remark"]);
    let mut count = 0u64;
    let mut last_line = 0;
    for item in source {
        let record = item.expect("every generated row reads");
        assert_eq!(record.fields.len(), 4);
        last_line = record.line;
        count += 1;
    }
    assert_eq!(count, ROWS);
    assert_eq!(last_line, ROWS + 1);

    let (format, source) = open_reader(Some("big.jsonl"), Body::new(ROWS, true)).expect("opens");
    assert_eq!(format, Format::JsonLines);
    assert_eq!(source.header(), ["id_number", "name", "village", "remark"]);
    let mut count = 0u64;
    for item in source {
        item.expect("every generated line reads");
        count += 1;
    }
    assert_eq!(count, ROWS);

    // About 75 MB went through each reader; the peak must not follow it. The margin is
    // generous (allocator and test harness), far below the data's size.
    if let (Some(before), Some(after)) = (before, peak_kib()) {
        assert!(
            after.saturating_sub(before) < 32 * 1024,
            "peak memory grew by {} KiB",
            after - before
        );
    }
}
