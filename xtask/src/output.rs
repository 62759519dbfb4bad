//! The one output contract of every command. A command's result is a value: people read it
//! (`Display`), machines parse it (`Serialize`, `--format json`), a pull request shows it
//! (`--format markdown`, written with [`markdown`]). The result goes to stdout; progress, notes and
//! warnings go to stderr. One exit rule: 0 done; 1 done, and the answer is no (a session that
//! would be stopped, deleted or notified, an invalid policy, a deploy that would stop, something
//! that needs attention); 2 could not run.

use std::fmt;
use std::io::Write as _;

use serde::Serialize;

use crate::Exit;

/// How a command prints its result: the one `--format` of every command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// For people, at a terminal.
    #[default]
    Text,
    /// For machines: the result as JSON (one object; `evaluate` writes one per record, one a
    /// line).
    Json,
    /// For a pull-request comment.
    Markdown,
}

/// Whether a command's answer is yes or no (exit 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
}

impl Answer {
    /// `No` when `condition` holds.
    pub fn no_when(condition: bool) -> Answer {
        if condition { Answer::No } else { Answer::Yes }
    }

    pub fn exit(self) -> Exit {
        match self {
            Answer::Yes => Exit::Success,
            Answer::No => Exit::Failed,
        }
    }
}

/// A command's result.
pub trait Outcome: fmt::Display + Serialize {
    /// The result for a pull-request comment. By default the text, in a code block.
    fn markdown(&self) -> String {
        format!(
            "```\n{}```\n",
            self.to_string().trim_end_matches('\n').to_owned() + "\n"
        )
    }

    /// Whether the answer is no (exit 1).
    fn answer(&self) -> Answer;
}

/// Has the process end quietly, as `cat` and `grep` do, when the reader of its output goes away
/// (`cargo xtask validate | head -1`): Rust starts a program with SIGPIPE ignored, so a write to
/// a closed pipe fails, and `println!` panics with a backtrace. With the signal's default
/// action the process ends at that write (a shell reports exit 141 under `pipefail`). For the
/// light binary only: its only sockets are loopback requests to moto written with `write_all`,
/// which the standard library sends with `MSG_NOSIGNAL`. `xtask-aws` keeps SIGPIPE ignored: its
/// TLS connections to AWS write with `writev`, which would raise it on a connection the peer
/// closed, where the SDK expects an error it can retry. Call it first in `main`, before any
/// thread starts. Elsewhere than Unix, nothing.
pub fn end_quietly_when_the_reader_goes() {
    #[cfg(unix)]
    // SAFETY: sets one signal's disposition to its default; no handler of ours is involved, and
    // it runs before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `outcome` in `format`, as printed.
pub fn rendered<T: Outcome>(outcome: &T, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Text => outcome.to_string(),
        Format::Json => serde_json::to_string_pretty(outcome)? + "\n",
        Format::Markdown => outcome.markdown(),
    })
}

/// Prints `outcome` in `format` on stdout and gives the exit its answer says.
pub fn emit<T: Outcome>(outcome: &T, format: Format) -> anyhow::Result<Exit> {
    let text = rendered(outcome, format)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(outcome.answer().exit())
}

/// What enforcement does with the sessions a command judged, in one vocabulary
/// (`policy::Action`'s wire names): `stop`, `delete`, `notify` (audit mode), `none`. The answer is
/// no when any session gets one of the first three.
pub fn sessions_answer<'a>(actions: impl IntoIterator<Item = &'a policy::Action>) -> Answer {
    Answer::no_when(
        actions
            .into_iter()
            .any(|action| *action != policy::Action::None),
    )
}

/// A table for people: each column as wide as its widest cell, two spaces before each, no
/// trailing spaces.
pub fn columns<R: AsRef<[String]>>(headers: &[&str], rows: &[R]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|row| row.as_ref().get(i).map_or(0, |cell| cell.chars().count()))
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, width) in cells.zip(&widths) {
            text.push_str(&format!("  {cell:<width$}"));
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.as_ref().iter().map(String::as_str)));
    }
    out
}

/// The one Markdown writer for pull-request comments.
pub mod markdown {
    /// A table: a header row, the separator, one row each. Cells are escaped.
    pub fn table<R: AsRef<[String]>>(headers: &[&str], rows: &[R]) -> String {
        let mut out = format!("| {} |\n", headers.join(" | "));
        out.push_str(&format!("|{}\n", "---|".repeat(headers.len())));
        for row in rows {
            let cells: Vec<String> = row.as_ref().iter().map(|text| cell(text)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// Text for a table cell: `|` escaped, line breaks as `<br>`.
    pub fn cell(text: &str) -> String {
        text.replace('|', "\\|").replace('\n', "<br>")
    }

    /// A heading of `level` (`###`).
    pub fn heading(level: usize, text: &str) -> String {
        format!("{} {text}\n", "#".repeat(level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Found {
        n: u32,
    }

    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            writeln!(f, "found {}", self.n)
        }
    }

    impl Outcome for Found {
        fn answer(&self) -> Answer {
            Answer::no_when(self.n > 0)
        }
    }

    #[test]
    fn one_result_three_formats_one_exit_rule() {
        let found = Found { n: 2 };
        assert_eq!(rendered(&found, Format::Text).unwrap(), "found 2\n");
        assert_eq!(
            rendered(&found, Format::Json).unwrap(),
            "{\n  \"n\": 2\n}\n"
        );
        assert_eq!(
            rendered(&found, Format::Markdown).unwrap(),
            "```\nfound 2\n```\n"
        );
        assert_eq!(found.answer().exit(), Exit::Failed);
        assert_eq!(Found { n: 0 }.answer().exit(), Exit::Success);
        assert_eq!(
            sessions_answer(&[policy::Action::None, policy::Action::Notify]),
            Answer::No
        );
        assert_eq!(sessions_answer(&[policy::Action::None]), Answer::Yes);
        assert_eq!(
            columns(&["a", "bee"], &[vec!["long".to_string(), "x".to_string()]]),
            "  a     bee\n  long  x\n"
        );
        assert_eq!(
            markdown::table(&["a", "b"], &[vec!["x|y".to_string(), "z\nw".to_string()]]),
            "| a | b |\n|---|---|\n| x\\|y | z<br>w |\n"
        );
    }
}
