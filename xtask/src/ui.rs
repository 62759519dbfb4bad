//! Everything the commands say to, or ask of, the person at the terminal.
//!
//! - Consent before a command changes an AWS account (deploy, clean-up): `--yes`, or a yes to
//!   each question on a terminal. It is settled before the first change, so that a command with
//!   neither refuses having changed nothing.
//! - A [`Spinner`] while waiting on AWS: a turning bar on a terminal, nothing in CI logs.
//! - [`print_outputs`]: a stack's outputs, one `key = value` a line.

use std::io::{IsTerminal, Write};

/// `--yes`, for the commands that change an account.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct Confirmation {
    /// Answer yes to every question (for CI and scripts). Without it, and without a terminal to
    /// ask on, the command refuses before it changes anything.
    #[arg(long)]
    pub yes: bool,
}

/// Whether there is someone to ask: is standard input a terminal?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    Present,
    Absent,
}

impl Terminal {
    pub fn of_stdin() -> Terminal {
        if std::io::stdin().is_terminal() {
            Terminal::Present
        } else {
            Terminal::Absent
        }
    }
}

/// How a command gets the user's agreement to each change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// `--yes`: every question is answered yes without asking.
    Given,
    /// Each question is asked on the terminal.
    Ask,
}

/// Neither `--yes` nor a terminal: the command must not change anything.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{action} changes the AWS account, and asks first, but there is no terminal to ask on: \
     nothing was changed. Pass --yes to proceed without asking"
)]
pub struct NoConsent {
    /// What the command was about to do, e.g. `deploying stack glue-session-guard`.
    pub action: String,
}

impl Consent {
    /// Settles, before anything is changed, how the command gets the user's agreement: `--yes`,
    /// else questions on the terminal, else a refusal.
    pub fn decide(
        confirmation: Confirmation,
        terminal: Terminal,
        action: &str,
    ) -> Result<Consent, NoConsent> {
        match (confirmation.yes, terminal) {
            (true, _) => Ok(Consent::Given),
            (false, Terminal::Present) => Ok(Consent::Ask),
            (false, Terminal::Absent) => Err(NoConsent {
                action: action.to_string(),
            }),
        }
    }

    /// True when the user agrees to what the question says (always, with `--yes`).
    pub fn confirm(self, question: &str) -> anyhow::Result<bool> {
        match self {
            Consent::Given => Ok(true),
            Consent::Ask => {
                eprint!("{question} [y/N] ");
                std::io::stderr().flush()?;
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
            }
        }
    }
}

/// A one-line spinner on stderr while a command waits, drawn only when stderr is a terminal (CI
/// logs get the plain lines printed through [`Spinner::line`] and nothing else).
pub struct Spinner {
    drawn: bool,
    tick: usize,
}

impl Spinner {
    const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

    pub fn on_stderr() -> Spinner {
        Spinner {
            drawn: std::io::stderr().is_terminal(),
            tick: 0,
        }
    }

    /// Prints a line of its own, above the spinner.
    pub fn line(&self, text: &str) {
        self.clear();
        eprintln!("{text}");
    }

    /// Shows the next frame with `state` beside it (e.g. a stack status).
    pub fn turn(&mut self, state: &str) {
        if self.drawn {
            eprint!("\r{} {state}", Self::FRAMES[self.tick % Self::FRAMES.len()]);
            let _ = std::io::stderr().flush();
            self.tick += 1;
        }
    }

    /// Erases the spinner's line.
    pub fn clear(&self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Says one step of a long walk-through (the demos) on stdout: the walk-through is their result.
pub fn step(text: &str) {
    println!("\n==> {text}");
}

/// Prints a stack's outputs (`(key, value)` pairs), one `key = value` a line: a deploy's result.
pub fn print_outputs<'a>(outputs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let outputs: Vec<_> = outputs.into_iter().collect();
    if outputs.is_empty() {
        println!("outputs: none reported");
        return;
    }
    println!("outputs:");
    for (key, value) in outputs {
        println!("  {key} = {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YES: Confirmation = Confirmation { yes: true };
    const NO_YES: Confirmation = Confirmation { yes: false };

    #[test]
    fn yes_is_consent_with_or_without_a_terminal() {
        for terminal in [Terminal::Present, Terminal::Absent] {
            assert_eq!(
                Consent::decide(YES, terminal, "deploying stack s"),
                Ok(Consent::Given)
            );
        }
        assert!(Consent::Given.confirm("Create stack s?").unwrap());
    }

    #[test]
    fn without_yes_a_terminal_is_asked() {
        assert_eq!(
            Consent::decide(NO_YES, Terminal::Present, "deploying stack s"),
            Ok(Consent::Ask)
        );
    }

    #[test]
    fn without_yes_or_a_terminal_the_command_is_refused_saying_what_to_pass() {
        let refused = Consent::decide(NO_YES, Terminal::Absent, "deploying stack s").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "deploying stack s changes the AWS account, and asks first, but there is no \
             terminal to ask on: nothing was changed. Pass --yes to proceed without asking"
        );
    }
}
