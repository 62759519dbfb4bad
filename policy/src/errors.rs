//! What a policy file's problems are: each a `file:line:col: field.path: reason` line
//! ([`PolicyError`] at a [`Location`]), all of a file's together ([`PolicyErrors`]), their text
//! made safe to print. Below validation, the shape checks and the locator, which all report them.

use std::fmt;

/// A 1-based line and column in the policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: usize,
    pub col: usize,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyError {
    pub file: String,
    pub location: Location,
    /// Dotted field path, e.g. `overrides[1].boundaries.max_workers`; empty for the whole file.
    pub path: String,
    pub reason: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Location { line, col } = self.location;
        if self.path.is_empty() {
            write!(f, "{}:{line}:{col}: {}", self.file, self.reason)
        } else {
            write!(
                f,
                "{}:{line}:{col}: {}: {}",
                self.file, self.path, self.reason
            )
        }
    }
}

/// Longest reason or path printed; longer ones are cut with `…`.
const MAX_SHOWN_CHARS: usize = 600;

/// Text from the policy made safe to print: control characters escaped (an ESC must not
/// reach a terminal), and at most `MAX_SHOWN_CHARS` characters.
pub fn printable(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == MAX_SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl PolicyError {
    #[cfg_attr(not(feature = "yaml"), allow(dead_code))]
    pub(crate) fn new(file: &str, location: Location, path: &str, reason: &str) -> PolicyError {
        PolicyError {
            file: printable(file),
            location,
            path: printable(path),
            reason: printable(reason),
        }
    }
}

/// Every problem found in one policy file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}
