//! The project's own Python tools (moto server, cfn-lint, checkov, cargo-lambda, zig), pinned in
//! `tools/requirements.txt` and installed into `./.venv`: a moto server on loopback, and the
//! linters over rendered templates (`lint_templates`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{Exit, paths};

/// `cargo`, the one running this command (`$CARGO`, else the first on `PATH`), for a build or
/// run of its own: [`without_run_env`].
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    without_run_env(&mut command);
    command
}

/// Takes out of `command`'s environment what `cargo run` set for this process (`CARGO_PKG_*`,
/// `CARGO_MANIFEST_*`, `CARGO_CRATE_NAME`, …; Cargo Book, "Environment variables Cargo sets for
/// crates"), so a cargo it starts sees the environment a shell gives. Some build scripts watch
/// these (ring's `rerun-if-env-changed=CARGO_PKG_NAME`): seen changed, ring and every crate
/// above it (rustls, the AWS SDK's HTTP client, the function, `xtask-aws`) were rebuilt on each
/// run that followed a build from elsewhere. `CARGO` itself stays (it finds this cargo).
pub fn without_run_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else {
            continue;
        };
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(name);
        }
    }
    command
}

/// `./.venv` at the repository root.
pub(crate) fn venv_dir() -> PathBuf {
    paths::root().join(".venv")
}

/// A program installed in `.venv/bin`.
pub fn venv_bin(name: &str) -> PathBuf {
    venv_dir().join("bin").join(name)
}

/// `PATH` with `.venv/bin` first, so cargo-lambda finds zig and friends.
pub(crate) fn path_with_venv() -> anyhow::Result<std::ffi::OsString> {
    let venv = venv_dir().join("bin");
    let rest = std::env::var_os("PATH").unwrap_or_default();
    Ok(std::env::join_paths(
        std::iter::once(venv).chain(std::env::split_paths(&rest)),
    )?)
}

/// Creates or refreshes `.venv` so it holds exactly the pinned requirements. A stamp file holds
/// the requirements it was built from, so an unchanged venv costs one file comparison.
pub fn ensure_venv() -> anyhow::Result<()> {
    let requirements = paths::root().join("tools/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = venv_dir().join(".requirements.installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|had| had == wanted) {
        return Ok(());
    }
    if !venv_bin("python").exists() {
        eprintln!(
            "creating {} (Python tools, pinned)",
            paths::shown(&venv_dir())
        );
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(venv_dir()))
            .context("creating the Python virtual environment (is python3 installed?)")?;
    }
    eprintln!(
        "installing the pinned Python tools from tools/requirements.txt (a minute or two the \
         first time; pip's progress follows)"
    );
    run_checked(
        Command::new(venv_bin("python"))
            .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            // Progress, not a result: to stderr, with the rest of the progress.
            .stdout(std::io::stderr()),
    )
    .context("installing the Python tools")?;
    std::fs::write(&stamp, wanted)?;
    Ok(())
}

/// Runs a command with inherited output; an unsuccessful exit is an error naming it.
pub fn run_checked(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// A moto server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` from `.venv` and waits until it answers (at most 30 s).
    pub fn start() -> anyhow::Result<Moto> {
        let (child, endpoint) = spawn_moto(None)?;
        Ok(Moto { child, endpoint })
    }
}

/// Starts `.venv/bin/moto_server` on a loopback port it picks itself and waits until it answers (at most
/// 30 s); returns the process and the endpoint (`http://127.0.0.1:<port>`). The one way this
/// project starts moto: [`Moto`] for the commands (demo, test, bench) and xtask's tests, and the
/// test kit (`testkit`) for the Lambda's tests.
///
/// With `watched_by: Some(pid)`, moto runs under a watchdog shell (the returned process) that
/// kills it once process `pid` is gone, however that process ends (a test binary that panics
/// or is killed leaves no server behind).
pub fn spawn_moto(watched_by: Option<u32>) -> anyhow::Result<(Child, String)> {
    let binary = venv_bin("moto_server");
    if !binary.exists() {
        bail!("{} is missing: run `cargo xtask setup`", binary.display());
    }
    // Port 0: the server binds a free port itself and says which (`Running on http://...`), so
    // no other process can take the port between our choosing and its binding.
    let mut command = match watched_by {
        None => {
            let mut command = Command::new(&binary);
            command.args(["-H", "127.0.0.1", "-p", "0"]);
            command
        }
        Some(parent) => {
            let script = format!(
                "\"{server}\" -H 127.0.0.1 -p 0 >/dev/null & moto=$!; \
                 while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $moto",
                server = binary.display(),
            );
            let mut command = Command::new("sh");
            command.args(["-c", &script]);
            command
        }
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let announced = announced_endpoint(stderr);
    let endpoint = match announced.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(endpoint)) => endpoint,
        Ok(Err(said)) => {
            let _ = child.kill();
            let status = child.wait()?;
            bail!("moto_server exited at start ({status}): {}", said.trim())
        }
        Err(_) => {
            let _ = child.kill();
            bail!("moto_server did not say where it listens within 30 s")
        }
    };
    let port = endpoint
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .with_context(|| format!("moto_server announced `{endpoint}`, without a port"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if answers(port) {
            return Ok((child, endpoint));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    bail!("moto_server did not answer at {endpoint} within 30 s")
}

/// Reads moto's standard error on a thread of its own until moto ends, so that its request log
/// never fills the pipe; sends the endpoint from its `Running on http://HOST:PORT` line, or
/// everything it said when it ends without one.
fn announced_endpoint(
    stderr: impl Read + Send + 'static,
) -> std::sync::mpsc::Receiver<Result<String, String>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stderr);
        let mut said = String::new();
        let mut line = Vec::new();
        let mut sent = false;
        while std::io::BufRead::read_until(&mut reader, b'\n', &mut line).is_ok_and(|n| n > 0) {
            if !sent {
                let text = String::from_utf8_lossy(&line);
                match running_on(&text) {
                    Some(endpoint) => {
                        sent = true;
                        let _ = sender.send(Ok(endpoint));
                    }
                    None if said.len() < 4000 => said.push_str(&text),
                    None => {}
                }
            }
            line.clear();
        }
        if !sent {
            let _ = sender.send(Err(said));
        }
    });
    receiver
}

/// The endpoint in Werkzeug's `* Running on http://127.0.0.1:36225` line.
fn running_on(line: &str) -> Option<String> {
    let rest = &line[line.find("Running on ")? + "Running on ".len()..];
    let endpoint = rest.split_whitespace().next()?;
    endpoint
        .starts_with("http://")
        .then(|| endpoint.trim_end_matches('/').to_string())
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets how moto moves the state of its `model` (`glue::job_run`: STARTING, RUNNING,
/// SUCCEEDED), with moto's own API (`POST /moto-api/state-manager/set-transition`) on the server
/// at `endpoint` (`http://127.0.0.1:<port>`): `{"progression": "manual", "times": 1000}` keeps a
/// job run `STARTING` for 1000 reads, where moto's default (`immediate`) has it `SUCCEEDED` on
/// the first.
pub fn set_moto_transition(
    endpoint: &str,
    model: &str,
    transition: serde_json::Value,
) -> anyhow::Result<()> {
    moto_api(
        endpoint,
        "/moto-api/state-manager/set-transition",
        &serde_json::json!({"model_name": model, "transition": transition}),
    )
}

/// POSTs `body` to moto's own API at `path` (`/moto-api/...`) on the server at `endpoint`;
/// moto answers 201 when it took it. Used to set state transitions and to seed the results
/// moto's Athena returns (`/moto-api/static/athena/query-results`).
pub fn moto_api(endpoint: &str, path: &str, body: &serde_json::Value) -> anyhow::Result<()> {
    let address = endpoint.trim_start_matches("http://");
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream =
        TcpStream::connect(address).with_context(|| format!("connecting to moto at {endpoint}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply.lines().next().unwrap_or_default();
    if !status.contains(" 201") {
        bail!("moto's {path} answered {status:?}");
    }
    Ok(())
}

/// True when an HTTP server answers on the loopback port.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut reply = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read(&mut reply).is_ok_and(|n| n > 0)
        && reply.starts_with(b"HTTP/")
}

/// Runs every linter over `templates`, all of them even when one fails, and says what each
/// found. `Failed` when any linter found something.
pub(crate) fn lint_templates(templates: &[PathBuf]) -> anyhow::Result<Exit> {
    for linter in Linter::ALL {
        let program = venv_bin(linter.program());
        if !program.exists() {
            anyhow::bail!(
                "{} is not installed: run `cargo xtask setup`",
                paths::shown(&program)
            );
        }
    }
    let shown: Vec<String> = templates.iter().map(|path| paths::shown(path)).collect();
    let mut outcome = Exit::Success;
    for linter in Linter::ALL {
        let status = linter
            .command(templates)
            .status()
            .with_context(|| format!("starting {}", linter.program()))?;
        if status.success() {
            println!(
                "{}: {} in {}",
                linter.program(),
                linter.clean(),
                shown.join(", ")
            );
        } else {
            eprintln!(
                "{} found {} ({status}) in {}",
                linter.program(),
                linter.findings(),
                shown.join(", ")
            );
            outcome = Exit::Failed;
        }
    }
    Ok(outcome)
}

/// The linters `lint` runs, in order.
#[derive(Clone, Copy)]
enum Linter {
    CfnLint,
    Checkov,
}

impl Linter {
    const ALL: [Linter; 2] = [Linter::CfnLint, Linter::Checkov];

    /// Its program in `.venv/bin`.
    fn program(self) -> &'static str {
        match self {
            Linter::CfnLint => "cfn-lint",
            Linter::Checkov => "checkov",
        }
    }

    fn clean(self) -> &'static str {
        match self {
            Linter::CfnLint => "no errors or warnings",
            Linter::Checkov => "no failed checks",
        }
    }

    fn findings(self) -> &'static str {
        match self {
            Linter::CfnLint => "errors or warnings",
            Linter::Checkov => "failed checks",
        }
    }

    fn command(self, templates: &[PathBuf]) -> Command {
        let mut command = Command::new(venv_bin(self.program()));
        match self {
            Linter::CfnLint => {
                // Warnings fail like errors; informational findings are printed but exit 0.
                command.args(["--non-zero-exit-code", "warning", "--"]);
            }
            Linter::Checkov => {
                // Offline and on its own: no platform key, no download of policy metadata or
                // mappings, no look for a newer version on PyPI, only the CloudFormation checks.
                // A template it cannot parse fails instead of being passed over.
                command
                    .env_remove("BC_API_KEY")
                    .env_remove("PRISMA_API_URL")
                    .env("BC_SKIP_MAPPING", "TRUE")
                    .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
                    .env("CKV_PARSE_ERROR_FAIL", "true")
                    .args([
                        "--framework",
                        "cloudformation",
                        "--skip-download",
                        "--skip-results-upload",
                        "--compact",
                        "--quiet",
                        "--file",
                    ]);
            }
        }
        command.args(templates);
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cargo started from here does not see what `cargo run` (here, the test runner) set for
    /// this process: a build script watching `CARGO_PKG_NAME` would rebuild ring and what is
    /// above it. `CARGO` stays.
    #[test]
    fn a_cargo_started_from_here_sees_a_shells_environment() {
        assert!(
            std::env::var_os("CARGO_PKG_NAME").is_some(),
            "cargo sets it for the tests it runs"
        );
        let command = cargo();
        let removed: Vec<String> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        for name in ["CARGO_PKG_NAME", "CARGO_MANIFEST_DIR", "CARGO_PKG_VERSION"] {
            assert!(removed.iter().any(|r| r == name), "{name}: {removed:?}");
        }
        assert!(!removed.iter().any(|r| r == "CARGO"), "{removed:?}");
    }

    #[test]
    fn the_endpoint_is_read_from_the_servers_own_line() {
        assert_eq!(
            running_on(" * Running on http://127.0.0.1:36225\n").as_deref(),
            Some("http://127.0.0.1:36225")
        );
        assert_eq!(
            running_on(" * Running on http://127.0.0.1:5000/ (Press CTRL+C to quit)").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(running_on("WARNING: This is a development server."), None);
    }

    #[test]
    fn a_server_that_ends_without_saying_where_is_an_error_with_what_it_said() {
        let said = announced_endpoint(&b"Traceback: no module named moto\n"[..]);
        assert_eq!(
            said.recv_timeout(Duration::from_secs(5)).unwrap(),
            Err("Traceback: no module named moto\n".to_string())
        );
    }

    /// Servers started at once each listen where they say, on their own port.
    #[test]
    fn servers_started_together_never_share_a_port() {
        if !venv_bin("moto_server").exists() {
            panic!("run `cargo xtask setup` first: .venv/bin/moto_server is missing");
        }
        let servers: Vec<Moto> = std::thread::scope(|scope| {
            let started: Vec<_> = (0..3).map(|_| scope.spawn(Moto::start)).collect();
            started
                .into_iter()
                .map(|handle| handle.join().unwrap().unwrap())
                .collect()
        });
        let endpoints: std::collections::BTreeSet<&str> =
            servers.iter().map(|moto| moto.endpoint.as_str()).collect();
        assert_eq!(endpoints.len(), 3, "{endpoints:?}");
    }
}
