//! What the command-line tests (`xtask/tests/`) share: the checkout under test, the binary run
//! as a user runs it, its output as text, and scratch folders removed when dropped.

use std::io::Write as _;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The checkout under test: from `CARGO_MANIFEST_DIR` as `cargo test` sets it when it runs the
/// tests (a crate of the workspace), not as it was when they were compiled (a target directory
/// shared with another checkout may hold a build made there).
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    Path::new(&manifest_dir)
        .parent()
        .expect("a crate of the workspace")
        .to_path_buf()
}

/// Runs `binary` (`env!("CARGO_BIN_EXE_xtask")`) at the root with `args`, and `stdin` on its
/// standard input when given.
pub fn run(binary: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(binary);
    command
        .current_dir(root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("starting the binary");
    // Standard input is written on a thread of its own while the output is read: a child that
    // answers before it has read everything would otherwise block on a full pipe, and so would we.
    let writer = stdin.map(|bytes| {
        let mut input = child.stdin.take().expect("stdin is piped");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            // A child that exits without reading it all closes the pipe: not our failure.
            let _ = input.write_all(&bytes);
        })
    });
    let output = child.wait_with_output().expect("waiting for the binary");
    if let Some(writer) = writer {
        writer.join().expect("the stdin writer does not panic");
    }
    output
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch folder of one test, removed (with what it holds) when dropped.
pub struct Scratch(tempfile::TempDir);

/// A new scratch folder; `name` shows in its path.
pub fn scratch(name: &str) -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix(&format!("gsg-{name}-"))
            .tempdir()
            .expect("a scratch folder"),
    )
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}
