//! `cargo xtask evaluate`: judge one CloudTrail event or Glue session against a policy.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use policy::{Policy, Verdict};

use crate::{Outcome, paths};

#[derive(Clone, Copy, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct Evaluate {
    /// The policy file.
    #[arg(long)]
    policy: PathBuf,
    /// A CloudTrail CreateSession record (EventBridge envelope or bare) or a Glue session
    /// (`{"Session": {...}}` as GetSession returns it).
    #[arg(long)]
    event: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Evaluate {
    pub fn run(self) -> anyhow::Result<Outcome> {
        let policy = paths::load_policy(&self.policy)?;
        let verdict = verdict_for_file(&policy, &self.event)?;
        match self.format {
            Format::Json => println!("{}", serde_json::to_string(&verdict)?),
            Format::Text => print!("{}", describe(&verdict)),
        }
        Ok(Outcome::Success)
    }
}

/// Reads an input file and judges it: a Glue session when it looks like one, else an event.
pub fn verdict_for_file(policy: &Policy, file: &Path) -> anyhow::Result<Verdict> {
    let text = std::fs::read(file).with_context(|| format!("reading {}", paths::shown(file)))?;
    let input: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not JSON", paths::shown(file)))?;
    Ok(verdict_for(policy, &input))
}

/// Judges a JSON input: a Glue session (`Session` or `Id` at the top) or a CloudTrail event.
pub fn verdict_for(policy: &Policy, input: &serde_json::Value) -> Verdict {
    let is_glue_session = input.get("Session").is_some() || input.get("Id").is_some();
    if is_glue_session {
        match policy::facts_from_glue_session(input) {
            Ok(facts) => policy::evaluate(policy, &facts),
            Err(ignored) => Verdict::ignored(ignored),
        }
    } else {
        policy::evaluate_event(policy, input)
    }
}

/// The verdict for people.
pub fn describe(verdict: &Verdict) -> String {
    let mut out = String::new();
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_string());
    let _ = writeln!(out, "session:   {}", or_dash(&verdict.session_id));
    let _ = writeln!(out, "principal: {}", or_dash(&verdict.principal));
    let _ = writeln!(out, "decision:  {}", json_word(&verdict.decision));
    let _ = writeln!(out, "action:    {}", json_word(&verdict.action));
    if let Some(name) = &verdict.override_name {
        let _ = writeln!(out, "override:  {name}");
    }
    if let Some(reason) = &verdict.reason {
        let _ = writeln!(out, "reason:    {reason}");
    }
    for violation in &verdict.violations {
        let _ = writeln!(out, "  - {}: {}", violation.rule, violation.message);
    }
    for note in &verdict.defaults_applied {
        let _ = writeln!(out, "  default: {note}");
    }
    for note in &verdict.unchecked {
        let _ = writeln!(out, "  not checked: {note}");
    }
    out
}

/// A serde enum's wire name (`violation`, `stop`).
pub fn json_word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
