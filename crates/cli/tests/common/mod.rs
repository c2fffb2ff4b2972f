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

/// `sangam serve` on the backend, on a free port; the running server and its base URL.
pub fn serve(backend: &TestBackend) -> (Child, String) {
    spawn_serving(with_store(
        sangam().args(["serve", "--listen", "127.0.0.1:0"]),
        backend,
    ))
}

/// Sends signal `name` (`TERM`, `KILL`) to `child`; whether it was sent.
pub fn signal(child: &Child, name: &str) -> bool {
    Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// The password of every officer the tests save.
pub const PASSWORD: &str = "a long enough passphrase";

/// Saves `username`, a nodal officer of `organisation`, in the backend's store with
/// [`PASSWORD`], through `sangam users set`; the file in `dir` that holds the password.
pub fn save_officer(
    backend: &TestBackend,
    dir: &std::path::Path,
    username: &str,
    organisation: &str,
) -> std::path::PathBuf {
    let password = dir.join(format!("{username}.password"));
    std::fs::write(&password, format!("{PASSWORD}\n")).expect("write the password file");
    let mut set = sangam();
    set.args([
        "users",
        "set",
        "--username",
        username,
        "--role",
        "nodal-officer",
    ])
    .args(["--organisation", organisation, "--password-file"])
    .arg(&password);
    let out = run(with_store(&mut set, backend));
    assert!(out.status.success(), "{}", stderr(&out));
    password
}

/// Signs `username` in over the API of the hub at `base` with [`PASSWORD`]; its bearer token.
pub async fn sign_in(base: &str, username: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/session"))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .expect("the hub answers");
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let session: serde_json::Value = r.json().await.expect("a session");
    session["token"].as_str().expect("a token").to_owned()
}
