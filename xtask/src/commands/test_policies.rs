//! `cargo xtask test-policies`: each `policies/<name>.yaml` may have `<name>.tests.yaml` beside
//! it, a list of sample sessions with the verdicts they must get (cloudformation-guard style).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::verdicts::verdict_for_file;
use crate::{Exit, paths};

#[derive(clap::Args)]
pub struct TestPoliciesCommand {
    /// Policy files, or folders of them, whose tests to run (default: every policy in
    /// policies/). Each policy needs `<name>.tests.yaml` beside it.
    policies: Vec<PathBuf>,
    /// A policy file, as the other commands take it (the same as naming it without the flag);
    /// repeatable.
    #[arg(long = "policy", value_name = "FILE")]
    policy_flags: Vec<PathBuf>,
}

/// One sample and what it must get.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyTest {
    name: String,
    /// The input, relative to the tests file: a CloudTrail event, a Glue session, job or job run.
    event: PathBuf,
    /// The job's definition as `GetJob` returns it, relative to the tests file: what a
    /// `StartJobRun` sample or a job run is judged over.
    #[serde(default)]
    job: Option<PathBuf>,
    /// The instant a Glue answer (a session, job or job run) is judged at, as the sweep judges
    /// what it finds at its clock: RFC 3339 or a day (`2027-01-31`). Without it an exception with
    /// `expires` never applies to one (its time is unknown). A CloudTrail record is judged at
    /// its own `eventTime`: `at` on one fails its case.
    #[serde(default)]
    at: Option<String>,
    expect: Expected,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    decision: String,
    #[serde(default)]
    action: Option<String>,
    /// The broken boundary keys, in the order the engine reports them.
    #[serde(default)]
    rules: Option<Vec<String>>,
    /// The override that must apply; `none` for no override.
    #[serde(default, rename = "override")]
    override_name: Option<String>,
    /// Expect at least one Glue default to have been applied.
    #[serde(default)]
    defaults_applied: Option<bool>,
    /// The `notifications.routes` the notification goes to (`[]`: only the default list).
    #[serde(default)]
    routes: Option<Vec<String>>,
}

/// The outcome of one case.
#[derive(Debug)]
pub struct PolicyTestResult {
    pub policy: String,
    pub name: String,
    /// What differed from the expectation; empty when the case passed.
    pub mismatches: Vec<String>,
    pub summary: String,
    /// Where the case is: `policies/default.tests.yaml:7`.
    pub place: String,
    /// What the verdict broke (`broke <rule>: <message>`) and its notes (`note: ...`), shown
    /// when the case fails.
    pub findings: Vec<String>,
}

/// The paths under `path` of keys written with no value (YAML's null).
fn empty_keys(value: &serde_yaml::Value, path: &str, found: &mut Vec<String>) {
    if let serde_yaml::Value::Mapping(map) = value {
        for (key, value) in map {
            let at = format!("{path}.{}", key.as_str().unwrap_or_default());
            if value.is_null() {
                found.push(at);
            } else {
                empty_keys(value, &at, found);
            }
        }
    }
}

/// The tests file that goes with a policy file.
fn tests_file(policy: &Path) -> PathBuf {
    let stem = policy
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    policy.with_file_name(format!("{stem}.tests.yaml"))
}

/// Runs the cases of one policy (none when it has no tests file).
fn run_policy_cases(policy_file: &Path) -> anyhow::Result<Vec<PolicyTestResult>> {
    let tests = tests_file(policy_file);
    if !tests.exists() {
        return Ok(Vec::new());
    }
    let policy = paths::load_policy(policy_file)?;
    let text = std::fs::read_to_string(&tests)
        .with_context(|| format!("reading {}", paths::shown(&tests)))?;
    let cases: Vec<PolicyTest> = serde_yaml::from_str(&text).map_err(|error| {
        // `file:line:col: reason`, as a policy's own errors are said.
        let (line, column) = error
            .location()
            .map_or((1, 1), |at| (at.line(), at.column()));
        let reason = error.to_string();
        let reason = reason
            .rfind(" at line ")
            .map_or(reason.as_str(), |cut| &reason[..cut]);
        anyhow::anyhow!(
            "{}:{line}:{column}: not a list of test cases: {reason}",
            paths::shown(&tests)
        )
    })?;
    // What no verdict can be, and what no case can mean: said at the case, not left to look
    // like a mismatch.
    const DECISIONS: [&str; 4] = ["violation", "exempt", "compliant", "ignored"];
    let (places, _) = policy::locate::LocationIndex::build(&text);
    let place_of = |path: &str| {
        let location = places.locate(path);
        format!(
            "{}:{}:{}",
            paths::shown(&tests),
            location.line,
            location.col
        )
    };
    let overrides: Vec<&str> = policy
        .overrides
        .iter()
        .map(|rule| rule.name.as_str())
        .chain(
            policy
                .jobs
                .iter()
                .flat_map(|jobs| jobs.overrides.iter().map(|rule| rule.name.as_str())),
        )
        .collect();
    let mut names: Vec<&str> = Vec::new();
    // Every problem, each at its place, said in the file's order.
    let mut problems: Vec<(policy::locate::Location, String)> = Vec::new();
    let mut problem = |path: String, reason: String| {
        let location = places.locate(&path);
        problems.push((location, format!("{}: {path}: {reason}", place_of(&path))));
    };
    // A key with no value reads as not given (`override:` would check nothing): as in a policy,
    // it is a problem at its place.
    if let Ok(serde_yaml::Value::Sequence(items)) = serde_yaml::from_str(&text) {
        for (i, item) in items.iter().enumerate() {
            let mut empty = Vec::new();
            empty_keys(item, &format!("[{i}]"), &mut empty);
            for path in empty {
                let key = path.rsplit('.').next().unwrap_or_default().to_string();
                problem(
                    path,
                    format!("`{key}` has no value: write its value, or leave the key out"),
                );
            }
        }
    }
    let routes: Vec<&str> = policy
        .notifications
        .iter()
        .flat_map(|n| n.routes.iter().map(|route| route.name.as_str()))
        .collect();
    let listed = |names: &[&str]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    for (i, case) in cases.iter().enumerate() {
        if let Some(first) = names.iter().position(|name| *name == case.name) {
            problem(
                format!("[{i}].name"),
                format!(
                    "a case named `{}` is already [{first}]: name each case once",
                    case.name
                ),
            );
        }
        names.push(&case.name);
        if let Some(when) = &case.at
            && let Err(reason) = crate::history::instant(when)
        {
            problem(format!("[{i}].at"), reason);
        }
        if !DECISIONS.contains(&case.expect.decision.as_str()) {
            problem(
                format!("[{i}].expect.decision"),
                format!(
                    "`{}` is not a decision ({})",
                    case.expect.decision,
                    DECISIONS.join(", ")
                ),
            );
        }
        if let Some(name) = &case.expect.override_name
            && name != "none"
            && !overrides.contains(&name.as_str())
        {
            problem(
                format!("[{i}].expect.override"),
                format!(
                    "the policy has no override `{name}` (its overrides: {}; `none` for none)",
                    listed(&overrides)
                ),
            );
        }
        for unknown in case
            .expect
            .rules
            .iter()
            .flatten()
            .filter(|rule| !policy::RULES.contains(&rule.as_str()))
        {
            problem(
                format!("[{i}].expect.rules"),
                format!(
                    "`{unknown}` is not a rule (the rules: {})",
                    policy::RULES.join(", ")
                ),
            );
        }
        for unknown in case
            .expect
            .routes
            .iter()
            .flatten()
            .filter(|route| !routes.contains(&route.as_str()))
        {
            problem(
                format!("[{i}].expect.routes"),
                format!(
                    "the policy has no route `{unknown}` (its routes: {})",
                    listed(&routes)
                ),
            );
        }
    }
    if !problems.is_empty() {
        // Stable: problems at one place keep the order they were found in.
        problems.sort_by_key(|(location, _)| (location.line, location.col));
        let lines: Vec<String> = problems.into_iter().map(|(_, line)| line).collect();
        bail!("{}", lines.join("\n"));
    }
    let dir = tests.parent().unwrap_or(Path::new("."));
    let mut results = Vec::new();
    for (i, case) in cases.into_iter().enumerate() {
        let place = format!(
            "{}:{}",
            paths::shown(&tests),
            places.locate(&format!("[{i}]")).line
        );
        let input = dir.join(&case.event);
        // A sample that cannot be judged (missing, not JSON) fails its own case; the others
        // still run.
        let jobs: Vec<PathBuf> = case.job.iter().map(|job| dir.join(job)).collect();
        // Checked above.
        let judged_at = case
            .at
            .as_deref()
            .and_then(|when| crate::history::instant(when).ok());
        let verdict = match verdict_for_file(&policy, &jobs, &input, judged_at) {
            Ok(verdict) => verdict,
            Err(error) => {
                results.push(PolicyTestResult {
                    policy: paths::shown(policy_file),
                    name: case.name,
                    place,
                    findings: Vec::new(),
                    mismatches: vec![format!("the sample cannot be judged: {error:#}")],
                    summary: String::new(),
                });
                continue;
            }
        };
        let decision = verdict.decision.as_str();
        let action = verdict.action.as_str();
        let rules: Vec<String> = verdict.rules().iter().map(|r| r.to_string()).collect();
        let override_name = verdict
            .override_name
            .clone()
            .unwrap_or_else(|| "none".into());
        let mut mismatches = Vec::new();
        let mut compare = |what: &str, expected: &str, actual: &str| {
            if expected != actual {
                mismatches.push(format!("{what}: expected {expected}, got {actual}"));
            }
        };
        compare("decision", &case.expect.decision, decision);
        if let Some(expected) = &case.expect.action {
            compare("action", expected, action);
        }
        if let Some(expected) = &case.expect.rules {
            compare("rules", &format!("{expected:?}"), &format!("{rules:?}"));
        }
        if let Some(expected) = &case.expect.override_name {
            compare("override", expected, &override_name);
        }
        if let Some(expected) = &case.expect.routes {
            compare(
                "routes",
                &format!("{expected:?}"),
                &format!("{:?}", verdict.routes),
            );
        }
        if let Some(expected) = case.expect.defaults_applied {
            let applied = !verdict.defaults_applied.is_empty();
            compare(
                "defaults_applied",
                &expected.to_string(),
                &applied.to_string(),
            );
        }
        results.push(PolicyTestResult {
            policy: paths::shown(policy_file),
            name: case.name,
            place,
            // What the verdict broke, and its notes (an exception that lapsed, a default
            // assumed): what a failing case needs to be understood.
            findings: verdict
                .violations
                .iter()
                .map(|v| format!("broke {}: {}", v.rule, v.message))
                .chain(verdict.notes.iter().map(|note| format!("note: {note}")))
                .collect(),
            mismatches,
            summary: format!(
                "{decision}/{action}{}{}",
                if rules.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", rules.join(", "))
                },
                verdict
                    .override_name
                    .map(|n| format!(" override={n}"))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(results)
}

impl TestPoliciesCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        let named: Vec<PathBuf> = self.policies.into_iter().chain(self.policy_flags).collect();
        let files = paths::policy_files(&named)?;
        let (mut passed, mut failed) = (0, 0);
        for file in &files {
            // Every policy needs sample sessions, named or found: a policy without them is a
            // failure that says so, whether it was named or found in policies/.
            let tests = tests_file(file);
            if !tests.exists() {
                failed += 1;
                println!(
                    "FAIL {}: no tests file: add {} with sample sessions and their verdicts",
                    paths::shown(file),
                    paths::shown(&tests)
                );
                continue;
            }
            let results = run_policy_cases(file)?;
            if results.is_empty() {
                failed += 1;
                println!(
                    "FAIL {}: {} holds no test case: add sample sessions and their verdicts",
                    paths::shown(file),
                    paths::shown(&tests)
                );
            }
            for result in results {
                if result.mismatches.is_empty() {
                    passed += 1;
                    println!(
                        "PASS {}: {} ({})",
                        result.policy, result.name, result.summary
                    );
                } else {
                    failed += 1;
                    println!("FAIL {}: {} ({})", result.policy, result.name, result.place);
                    for mismatch in &result.mismatches {
                        println!("     {mismatch}");
                    }
                    for line in &result.findings {
                        println!("     {line}");
                    }
                }
            }
        }
        println!("{passed} passed, {failed} failed");
        Ok(if failed == 0 && passed > 0 {
            Exit::Success
        } else {
            Exit::Failed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` runs every policy's samples too.
    #[test]
    fn every_policy_sample_gets_its_expected_verdict() {
        let mut total = 0;
        for file in paths::default_policies().unwrap() {
            for result in run_policy_cases(&file).unwrap() {
                total += 1;
                assert!(
                    result.mismatches.is_empty(),
                    "{}: {}: {:?}",
                    result.policy,
                    result.name,
                    result.mismatches
                );
            }
        }
        assert!(
            total >= 12,
            "expected at least 12 policy samples, found {total}"
        );
    }

    #[test]
    fn a_sample_that_cannot_be_judged_fails_its_case_and_the_others_still_run() {
        let dir =
            std::env::temp_dir().join(format!("gsg-policy-tests-broken-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let root = paths::policies_dir();
        std::fs::copy(root.join("default.yaml"), dir.join("p.yaml")).unwrap();
        let sample = root.join("samples/too-many-workers.json");
        std::fs::write(
            dir.join("p.tests.yaml"),
            format!(
                "- name: missing\n  event: nowhere.json\n  expect: {{decision: compliant}}\n\
                 - name: wrong\n  event: {}\n  expect: {{decision: compliant}}\n",
                sample.display()
            ),
        )
        .unwrap();
        let results = run_policy_cases(&dir.join("p.yaml")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(results.len(), 2);
        assert!(
            results[0].mismatches[0].starts_with("the sample cannot be judged: "),
            "{:?}",
            results[0].mismatches
        );
        assert_eq!(
            results[1].mismatches,
            ["decision: expected compliant, got violation"]
        );
    }

    /// A Glue answer has no time of its own: a case's `at` gives it one, so an exception that
    /// expires applies before then; without it, never. On a record, `at` fails its case.
    #[test]
    fn a_case_judges_a_glue_answer_at_its_at() {
        let dir = std::env::temp_dir().join(format!("gsg-policy-at-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let root = paths::policies_dir();
        std::fs::write(
            dir.join("p.yaml"),
            "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\njobs:\n  \
             boundaries: {max_workers: 5}\n  overrides:\n    - name: daily\n      \
             job_names: [\"daily-*\"]\n      boundaries: {max_workers: 500}\n      \
             expires: 2027-01-01T00:00:00Z\n",
        )
        .unwrap();
        let (run, job) = (
            root.join("samples/job-run-swept.json"),
            root.join("samples/job-daily-load.json"),
        );
        let case = |name: &str, event: &Path, at: &str| {
            format!(
                "- name: {name}\n  event: {}\n  job: {}\n{at}  expect: {{decision: violation}}\n",
                event.display(),
                job.display()
            )
        };
        // A CloudTrail record is judged at its own eventTime: `at` on one is a mistake, said.
        let record = root.join("samples/job-run-oversized.json");
        std::fs::write(
            dir.join("p.tests.yaml"),
            [
                case("before", &run, "  at: 2026-12-01\n"),
                case("unknown", &run, ""),
                case("record", &record, "  at: 2026-12-01\n"),
            ]
            .concat(),
        )
        .unwrap();
        let results = run_policy_cases(&dir.join("p.yaml")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(results[0].summary.contains("override=daily"), "{results:?}");
        assert!(!results[1].summary.contains("override="), "{results:?}");
        assert!(
            results[2].mismatches[0].contains(
                "`at` is the instant a Glue answer (a session, job or job run) is judged at, and"
            ),
            "{:?}",
            results[2].mismatches
        );
    }

    /// A tests file that is not one, an expected decision no verdict has, an override, route or
    /// rule the policy or the engine lacks, a bad `at` and a name used twice are errors at their
    /// `file:line:col`, all of them, not mismatches.
    #[test]
    fn a_tests_file_is_checked_at_its_places() {
        let dir = std::env::temp_dir().join(format!("gsg-policy-shape-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(paths::policies_dir().join("teams.yaml"), dir.join("p.yaml")).unwrap();
        let error = |expect: &str| {
            std::fs::write(
                dir.join("p.tests.yaml"),
                format!("- name: a\n  event: x.json\n  expect: {expect}\n"),
            )
            .unwrap();
            format!("{:#}", run_policy_cases(&dir.join("p.yaml")).unwrap_err())
        };
        let decision = error("{decision: compliantt}");
        let route = error("{decision: compliant, routes: [nope]}");
        let shape = error("{decision: compliant, nope: 1}");
        let override_name = error("{decision: compliant, override: orphans}");
        let rule = error("{decision: violation, rules: [max_worker, max_dpus]}");
        let at = error("{decision: compliant}\n  at: 2027-03-31T00:00:00");
        let both = error("{decision: compliantt, override: orphans}");
        let blank = error("{decision: compliant, override: }");
        let twice = error(
            "{decision: compliant}\n- name: a\n  event: y.json\n  expect: {decision: compliant}",
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            override_name.ends_with("p.tests.yaml:3:33: [0].expect.override: the policy has no override `orphans` (its overrides: analytics-backfill; `none` for none)"),
            "{override_name}"
        );
        assert!(
            rule.contains("p.tests.yaml:3:33: [0].expect.rules: `max_worker` is not a rule (the rules: max_workers, ")
                && rule.contains("[0].expect.rules: `max_dpus` is not a rule"),
            "{rule}"
        );
        assert!(
            at.contains("p.tests.yaml:4:3: [0].at: \"2027-03-31T00:00:00\" is neither a day"),
            "{at}"
        );
        assert!(
            blank.contains("p.tests.yaml:3:33: [0].expect.override: `override` has no value"),
            "{blank}"
        );
        let both: Vec<&str> = both.lines().collect();
        assert_eq!(both.len(), 2, "every problem is said: {both:?}");
        assert!(
            both[0].contains("3:12: [0].expect.decision: `compliantt` is not a decision")
                && both[1]
                    .contains("3:34: [0].expect.override: the policy has no override `orphans`"),
            "in the file's order: {both:?}"
        );
        assert!(
            twice.contains(
                "p.tests.yaml:4:3: [1].name: a case named `a` is already [0]: name each case once"
            ),
            "{twice}"
        );
        assert!(
            decision.ends_with("p.tests.yaml:3:12: [0].expect.decision: `compliantt` is not a decision (violation, exempt, compliant, ignored)"),
            "{decision}"
        );
        assert!(
            route.contains("[0].expect.routes: the policy has no route `nope`"),
            "{route}"
        );
        assert!(
            shape.contains("p.tests.yaml:3:33: not a list of test cases:"),
            "{shape}"
        );
    }

    #[test]
    fn a_wrong_expectation_is_reported() {
        let dir = std::env::temp_dir().join(format!("gsg-policy-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let root = paths::policies_dir();
        std::fs::copy(root.join("default.yaml"), dir.join("p.yaml")).unwrap();
        let sample = root.join("samples/too-many-workers.json");
        std::fs::write(
            dir.join("p.tests.yaml"),
            format!(
                "- name: wrong\n  event: {}\n  expect: {{decision: compliant, rules: []}}\n",
                sample.display()
            ),
        )
        .unwrap();
        let results = run_policy_cases(&dir.join("p.yaml")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            results[0].place.ends_with("p.tests.yaml:1"),
            "{}",
            results[0].place
        );
        assert_eq!(
            results[0].findings,
            ["broke max_workers: 12 workers requested; at most 10 allowed"]
        );
        assert_eq!(
            results[0].mismatches,
            vec![
                "decision: expected compliant, got violation".to_string(),
                "rules: expected [], got [\"max_workers\"]".to_string()
            ]
        );
    }
}
