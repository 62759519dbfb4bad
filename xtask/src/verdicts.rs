//! Verdicts of what a file holds, one per record: a CloudTrail record (bare or in its
//! EventBridge envelope), a trail's log file (plain or `.json.gz`), a `LookupEvents` response or
//! one item of it, JSON Lines of records, or a Glue session (`{"Session": {...}}`). Files are
//! streamed, so a 100 MB log file needs no more memory than a small one. Used by the evaluate
//! and test-policies commands.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use policy::records::{self, Item};
use policy::{Policy, ProfileDefaults, ProfileLookup, SessionFacts, UsageProfile, Verdict};

use crate::paths;

/// Usage profiles given on the command line, by `Name`.
#[derive(Debug, Default)]
pub struct ProfileFiles(BTreeMap<String, ProfileDefaults>);

impl ProfileFiles {
    /// Reads `GetUsageProfile` responses; a file that is not one, or two with one name, is an
    /// error naming the file.
    pub fn read(files: &[PathBuf]) -> anyhow::Result<ProfileFiles> {
        let mut profiles = BTreeMap::new();
        for file in files {
            let shown = paths::shown(file);
            let text = std::fs::read(file).map_err(|error| {
                anyhow::anyhow!(
                    "--usage-profile {shown}: cannot read: {}",
                    paths::io_reason(&error)
                )
            })?;
            let json: serde_json::Value = serde_json::from_slice(&text)
                .with_context(|| format!("{shown}: --usage-profile: not JSON"))?;
            let profile = UsageProfile::from_get_usage_profile(&json)
                .map_err(|reason| anyhow::anyhow!("{shown}: --usage-profile: {reason}"))?;
            if profiles
                .insert(profile.name.clone(), profile.defaults)
                .is_some()
            {
                bail!(
                    "{shown}: --usage-profile: a profile named {} was already given",
                    policy::quoted(&profile.name)
                );
            }
        }
        Ok(ProfileFiles(profiles))
    }

    /// `facts` with their usage profile's defaults, when it was given.
    pub fn apply(&self, facts: SessionFacts) -> SessionFacts {
        match facts.profile().and_then(|name| self.0.get(name)) {
            Some(defaults) => facts.with_usage_profile(ProfileLookup::Found(defaults.clone())),
            None => facts,
        }
    }
}

fn shown(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_string()
    } else {
        paths::shown(path)
    }
}

/// The file (or standard input for `-`), decompressed when it is gzip (by its first bytes, not
/// its name: a trail's `.json.gz` files are gzip streams of the same JSON).
fn open_input(path: &Path) -> anyhow::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(|error| {
            anyhow::anyhow!("cannot read {}: {}", shown(path), paths::io_reason(&error))
        })?)
    };
    let mut buffered = BufReader::new(raw);
    let head = buffered
        .fill_buf()
        .with_context(|| format!("reading {}", shown(path)))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Judges every record of the file in order, handing each verdict to `each`; returns how many.
/// An item that cannot be read is an `ignored` verdict with the reason; a file that stops being
/// JSON is an error naming the file and where (after the verdicts before it).
pub(crate) fn verdicts_in(
    policy: &Policy,
    profiles: &ProfileFiles,
    file: &Path,
    mut each: impl FnMut(Verdict),
) -> anyhow::Result<usize> {
    let input = open_input(file)?;
    records::for_each_item(input, |item| {
        each(match item {
            Item::Record(value) => verdict_for(policy, profiles, &value),
            Item::Unreadable(reason) => Verdict::ignored(policy::Ignored {
                reason,
                session_id: None,
                principal: None,
            }),
        })
    })
    .map_err(|error| anyhow::anyhow!("{}: not readable as JSON at {error}", shown(file)))
}

/// The one verdict of a file that must hold exactly one record (a policy test's sample).
pub(crate) fn verdict_for_file(policy: &Policy, file: &Path) -> anyhow::Result<Verdict> {
    let mut verdicts = Vec::new();
    verdicts_in(policy, &ProfileFiles::default(), file, |verdict| {
        verdicts.push(verdict)
    })?;
    match verdicts.len() {
        1 => Ok(verdicts.remove(0)),
        n => bail!(
            "{} holds {n} records; a sample must hold exactly one",
            shown(file)
        ),
    }
}

/// Judges a JSON input: a Glue session (`Session` or `Id` at the top) or a CloudTrail event.
fn verdict_for(policy: &Policy, profiles: &ProfileFiles, input: &serde_json::Value) -> Verdict {
    let is_glue_session = input.get("Session").is_some() || input.get("Id").is_some();
    let facts = if is_glue_session {
        policy::facts_from_glue_session(input)
    } else {
        policy::facts_from_cloudtrail(input)
    };
    match facts {
        Ok(facts) => policy::evaluate(policy, &profiles.apply(facts)),
        Err(ignored) => Verdict::ignored(ignored),
    }
}

/// The verdict for people. Names are quoted, so a stray space shows.
pub fn describe(verdict: &Verdict) -> String {
    let mut out = String::new();
    let quoted_or_dash = |value: &Option<String>| {
        value
            .as_deref()
            .map_or_else(|| "-".to_string(), policy::quoted)
    };
    let _ = writeln!(out, "session:   {}", quoted_or_dash(&verdict.session_id));
    if let Some(kind) = &verdict.session_type {
        let _ = writeln!(out, "type:      {kind}");
    }
    let _ = writeln!(out, "principal: {}", quoted_or_dash(&verdict.principal));
    if let Some(person) = &verdict.person {
        let _ = writeln!(out, "person:    {person}");
    }
    let _ = writeln!(out, "decision:  {}", verdict.decision.as_str());
    let _ = writeln!(out, "action:    {}", verdict.action.as_str());
    if let Some(name) = &verdict.override_name {
        let _ = writeln!(out, "override:  {}", policy::quoted(name));
    }
    if let Some(reason) = &verdict.reason {
        let _ = writeln!(out, "reason:    {reason}");
    }
    for line in findings(verdict) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// What a verdict found besides its decision, a line each, as `describe` and `scan` print them:
/// every violation with its value and limit, the defaults applied, what could not be checked and
/// the notes.
pub fn findings(verdict: &Verdict) -> Vec<String> {
    let violations = verdict
        .violations
        .iter()
        .map(|violation| format!("- {}: {}", violation.rule, violation.message));
    violations
        .chain(
            verdict
                .defaults_applied
                .iter()
                .map(|note| format!("default: {note}")),
        )
        .chain(
            verdict
                .unchecked
                .iter()
                .map(|note| format!("not checked: {note}")),
        )
        .chain(verdict.notes.iter().map(|note| format!("note: {note}")))
        .collect()
}
