//! What the CLI's integration tests share: running the built binary against a test backend.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use sangam_testkit::TestBackend;

/// The `sangam` binary, with no `SANGAM_` setting leaking in from the environment.
pub fn sangam() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sangam"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SANGAM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("SANGAM_LOG", "warn");
    cmd
}

/// Points a command at the backend's store.
pub fn with_store<'a>(cmd: &'a mut Command, backend: &TestBackend) -> &'a mut Command {
    cmd.arg("--data-dir").arg(backend.data_path());
    if let Some(url) = backend.database_url() {
        cmd.arg("--database-url").arg(url);
    }
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run sangam")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit status 1 and exactly one `error:` line that contains `needle`; no panic. Returns the
/// line.
pub fn assert_one_clear_error(o: &Output, needle: &str) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    assert!(
        lines[0].contains(needle),
        "expected {needle:?} in {:?}",
        lines[0]
    );
    lines[0].to_owned()
}

/// Spawns `cmd`, a `sangam serve` (or `demo`) listening on port 0, and waits for the address
/// it prints; the running server and its base URL.
pub fn spawn_serving(cmd: &mut Command) -> (Child, String) {
    let mut server = cmd
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sangam serve");
    let pipe = server.stderr.take().expect("its standard error");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("Sangam is serving on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its address");
    (server, base)
}
