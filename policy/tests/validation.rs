//! Every kind of validation error, with its message and its `file:line:col` location.

use policy::load_policy;

const VALID: &str = "\
version: 1
stack:
  name: guard
boundaries:
  max_workers: 10
";

/// The error lines for `text`, or a panic naming the policy when it is valid.
fn errors(text: &str) -> Vec<String> {
    match load_policy("p.yaml", text.as_bytes()) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

#[test]
fn a_minimal_policy_is_valid_and_filled_with_defaults() {
    let policy = load_policy("p.yaml", VALID.as_bytes()).unwrap();
    assert_eq!(policy.enforcement.mode, policy::Mode::Enforce);
    assert_eq!(policy.enforcement.action, policy::EnforcementAction::Stop);
    assert_eq!(policy.enforcement.wait_for_ready_seconds, 100);
    assert_eq!(policy.sweep.every_minutes, 10);
    assert_eq!(policy.boundaries.max_workers, Some(10));
}

#[test]
fn the_shipped_default_policy_is_valid() {
    let text = include_str!("../../policies/default.yaml");
    load_policy("policies/default.yaml", text.as_bytes()).unwrap();
}

#[test]
fn empty_and_non_text_files() {
    assert_eq!(
        one_error("  \n"),
        "p.yaml:1:1: the file is empty; a policy needs at least `version` and `stack`"
    );
    let error = load_policy("p.yaml", b"version: 1\xff\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "p.yaml:1:1: not UTF-8 text (invalid byte at offset 10)"
    );
    let huge = "#".repeat(policy::validate::MAX_POLICY_BYTES + 1);
    assert!(
        one_error(&huge)
            .starts_with("p.yaml:1:1: the file is 262145 bytes; a policy may be at most")
    );
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    let error = one_error("version: 1\nstack: [unclosed\n");
    assert!(error.starts_with("p.yaml:3:1: not valid YAML"), "{error}");
}

#[test]
fn unknown_keys_are_errors_with_their_location() {
    let error = one_error("version: 1\nstack:\n  name: guard\nboundaries:\n  max_wrokers: 10\n");
    assert_eq!(
        error,
        "p.yaml:5:3: boundaries.max_wrokers: unknown key; did you mean `max_workers`?"
    );
    let error = one_error(&format!("{VALID}colour: blue\n"));
    assert!(
        error.starts_with("p.yaml:6:1: colour: unknown key; the keys here are `version`, `stack`,"),
        "{error}"
    );
}

#[test]
fn wrong_types_name_the_field() {
    let error = one_error("version: 1\nstack:\n  name: guard\nboundaries:\n  max_workers: many\n");
    assert_eq!(
        error,
        "p.yaml:5:3: boundaries.max_workers: expected a whole number from 1 to 1000, got \"many\""
    );
    let error = one_error("version: 1\nstack:\n  name: guard\nboundaries:\n  max_workers: -3\n");
    assert_eq!(
        error,
        "p.yaml:5:3: boundaries.max_workers: expected a whole number from 1 to 1000, got -3"
    );
    let error = one_error(&format!("{VALID}enforcement:\n  mode: enforc\n"));
    assert!(
        error.ends_with(
            "enforcement.mode: `enforc` is not `enforce` or `audit`; did you mean `enforce`?"
        ),
        "{error}"
    );
}

#[test]
fn required_fields() {
    let error = one_error("stack:\n  name: guard\nboundaries: {max_workers: 1}\n");
    assert_eq!(error, "p.yaml:1:1: the required key `version` is missing");
    let error =
        one_error("version: 1\nstack:\n  region: eu-west-1\nboundaries: {max_workers: 1}\n");
    assert!(
        error.ends_with("stack: the required key `name` is missing"),
        "{error}"
    );
}

/// Each error without its `file:line:col: ` place.
fn without_places(errors: &[String]) -> Vec<&str> {
    errors
        .iter()
        .map(|error| {
            error
                .split_once(": ")
                .map_or(error.as_str(), |(_, rest)| rest)
        })
        .collect()
}

/// A list element without some of its required keys gets every one said at once (a stand-in
/// holds each place), and what else is wrong in it too: not one key per run of `validate`.
#[test]
fn every_missing_key_of_an_element_is_said_at_once() {
    let text = format!(
        "{VALID}overrides:
  - principals: [\"arn:aws:iam::*:role/A\"]
    boundaries: {{max_workers: 0}}
notifications:
  teams:
    - tenant_id: 0f5c2f6e-3b1a-4c9d-8e7f-a1b2c3d4e5f6
  slack:
    - {{workspace_id: T0123ABCD}}
"
    );
    let found = errors(&text);
    assert_eq!(
        without_places(&found),
        [
            "overrides[0]: the required key `name` is missing",
            "overrides[0].boundaries.max_workers: must be between 1 and 1000, got 0",
            "notifications.teams[0]: the required key `team_id` is missing",
            "notifications.teams[0]: the required key `channel_id` is missing",
            "notifications.slack[0]: the required key `channel_id` is missing",
        ],
        "{found:#?}"
    );
    // A budget without any of its keys; a usage profile's role that names the override whose
    // name is missing: nothing is said about the stand-ins themselves.
    let text = format!(
        "{VALID}overrides:
  - principals: [\"arn:aws:iam::*:role/Analyst\"]
    boundaries: {{max_workers: 20}}
usage_profiles:
  roles:
    - {{role: \"arn:aws:iam::123456789012:role/Analyst\", profile: default}}
budgets:
  - {{}}
"
    );
    let found = errors(&text);
    assert_eq!(
        without_places(&found),
        [
            "overrides[0]: the required key `name` is missing",
            "budgets[0]: the required key `name` is missing",
            "budgets[0]: the required key `members` is missing",
            "budgets[0]: the required key `max_concurrent_dpu` is missing",
        ],
        "{found:#?}"
    );
    // What is wrong with the element itself is still said (a route with nowhere to send);
    // two channels without their team are not the same channel.
    let text = format!(
        "{VALID}notifications:
  emails: [a@example.com]
  teams:
    - {{tenant_id: 0f5c2f6e-3b1a-4c9d-8e7f-a1b2c3d4e5f6, channel_id: \"19:a@thread.tacv2\"}}
    - {{tenant_id: 1f5c2f6e-3b1a-4c9d-8e7f-a1b2c3d4e5f6, channel_id: \"19:a@thread.tacv2\"}}
  routes:
    - principals: [\"arn:aws:iam::*:role/Finance\"]
"
    );
    let found = errors(&text);
    assert_eq!(
        without_places(&found),
        [
            "notifications.teams[0]: the required key `team_id` is missing",
            "notifications.teams[1]: the required key `team_id` is missing",
            "notifications.routes[0]: the required key `name` is missing",
            "notifications.routes[0]: a route needs somewhere to send: emails, slack or teams",
        ],
        "{found:#?}"
    );
}

#[test]
fn duplicate_keys_are_errors() {
    let error =
        one_error("version: 1\nstack:\n  name: a\n  name: b\nboundaries: {max_workers: 1}\n");
    assert_eq!(error, "p.yaml:4:3: stack.name: duplicate key `name`");
}

#[test]
fn unsupported_version() {
    let error = one_error(&VALID.replace("version: 1", "version: 2"));
    assert_eq!(
        error,
        "p.yaml:1:1: version: unsupported format version 2; this build reads version 1"
    );
}

#[test]
fn numbers_must_be_positive_and_sane() {
    let text = "version: 1
stack: {name: guard}
enforcement: {wait_for_ready_seconds: 0}
sweep: {every_minutes: 5000}
boundaries:
  max_workers: 0
  max_dpu: 0.1
  max_idle_timeout_minutes: 0
  max_timeout_minutes: 20000
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:3:15: enforcement.wait_for_ready_seconds: must be between 1 and 780 (the Lambda runs at most 900 s), got 0",
            "p.yaml:4:9: sweep.every_minutes: must be 0 (off) or between 1 and 1440, got 5000",
            "p.yaml:6:3: boundaries.max_workers: must be between 1 and 1000, got 0",
            "p.yaml:7:3: boundaries.max_dpu: must be between 0.25 and 16000, got 0.1",
            "p.yaml:8:3: boundaries.max_idle_timeout_minutes: must be between 1 and 10080 minutes, got 0",
            "p.yaml:9:3: boundaries.max_timeout_minutes: must be between 1 and 10080 minutes, got 20000",
        ]
    );
}

#[test]
fn at_least_one_boundary() {
    let error = one_error("version: 1\nstack: {name: guard}\n");
    assert_eq!(
        error,
        "p.yaml:1:1: boundaries: set at least one boundary; a policy without any limit enforces nothing"
    );
    let error = one_error("version: 1\nstack: {name: guard}\nboundaries: {}\n");
    assert!(
        error.starts_with("p.yaml:3:1: boundaries: set at least one boundary"),
        "{error}"
    );
}

#[test]
fn worker_types_and_glue_versions_must_be_well_formed_and_listed_once() {
    let text = "version: 1
stack: {name: guard}
boundaries:
  allowed_worker_types: [G.1X, \"g 3x\", G.1X]
  allowed_glue_versions: [\"4.0\", \"v9\", \"2.0\"]
  allowed_connections: []
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:4:32: boundaries.allowed_worker_types[1]: `g 3x`: not a Glue worker type name: Glue takes 1 to 128 letters, digits, `_`, `.` and `-` (like `G.1X`)",
            "p.yaml:4:40: boundaries.allowed_worker_types[2]: `G.1X` is listed twice",
            "p.yaml:5:34: boundaries.allowed_glue_versions[1]: `v9`: not a Glue version: Glue takes words of letters, digits and `_` joined by `.` (like \"5.1\"); sessions accept 3.0, 4.0, 5.0, 5.1, 6.0, 6.1",
            "p.yaml:5:40: boundaries.allowed_glue_versions[2]: `2.0`: interactive sessions need a Glue version greater than 2.0 (Glue's CreateSession); sessions accept 3.0, 4.0, 5.0, 5.1, 6.0, 6.1",
            "p.yaml:6:3: boundaries.allowed_connections: an empty list allows nothing; remove the key to allow any value",
        ]
    );
}

fn warnings(text: &str) -> Vec<String> {
    policy::load_policy_with_warnings("p.yaml", text.as_bytes())
        .unwrap_or_else(|errors| panic!("{errors}"))
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn names_the_catalogue_lacks_are_accepted_with_a_warning() {
    // Glue ships worker types and versions before this table learns them: a policy never waits
    // for a release of this tool.
    let text = "version: 1
stack: {name: guard}
boundaries:
  max_dpu: 40
  allowed_worker_types: [G.1X, R.2X, X.3X, Y.4X, Next, g.1x]
  allowed_glue_versions: [\"6.1\", \"7.0\"]
worker_type_dpu: {Y.4X: 4}
";
    assert_eq!(
        warnings(text),
        vec![
            "p.yaml:5:38: boundaries.allowed_worker_types[2]: `X.3X` is not in this build's Glue catalogue: accepted; its DPUs are taken from its name (3 per worker), or give them in worker_type_dpu",
            "p.yaml:5:50: boundaries.allowed_worker_types[4]: `Next` is not in this build's Glue catalogue: accepted, but neither the catalogue nor its name gives its DPUs, so max_dpu fails closed for it; give them in worker_type_dpu (`worker_type_dpu: {Next: <DPUs per worker>}`)",
            "p.yaml:5:56: boundaries.allowed_worker_types[5]: `g.1x` is not in this build's Glue catalogue (did you mean `G.1X`?): accepted, but neither the catalogue nor its name gives its DPUs, so max_dpu fails closed for it; give them in worker_type_dpu (`worker_type_dpu: {g.1x: <DPUs per worker>}`)",
            "p.yaml:6:34: boundaries.allowed_glue_versions[1]: `7.0` is not a Glue version this build knows sessions accept (3.0, 4.0, 5.0, 5.1, 6.0, 6.1): accepted as written (`cargo xtask catalogue` lists what this build knows)",
            "p.yaml:7:19: worker_type_dpu.Y.4X: `Y.4X` is not in this build's Glue catalogue: 4 DPU per worker as given here; its name already says 4 per worker, so this entry can go",
        ]
    );
    let policy = policy::load_policy("p.yaml", text.as_bytes()).unwrap();
    assert_eq!(policy.dpu_per_worker("Y.4X"), Some(4.0));
    assert_eq!(policy.dpu_per_worker("R.2X"), Some(2.0));
    assert_eq!(policy.dpu_per_worker("X.3X"), Some(3.0), "from its name");
    assert_eq!(policy.dpu_per_worker("Next"), None);
}

#[test]
fn worker_type_dpu_is_checked() {
    let text = "version: 1
stack: {name: guard}
boundaries: {max_dpu: 40}
worker_type_dpu: {G.1X: 2, G.2X: 2, b@d: 1, Q.9X: 0, W.1X: 1000}
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:4:19: worker_type_dpu.G.1X: `G.1X` is 1 DPU per worker in the Glue catalogue, not 2",
            "p.yaml:4:37: worker_type_dpu.b@d: `b@d`: not a Glue worker type name: Glue takes 1 to 128 letters, digits, `_`, `.` and `-` (like `G.1X`)",
            "p.yaml:4:45: worker_type_dpu.Q.9X: DPUs per worker must be more than 0 and at most 100, got 0",
            "p.yaml:4:54: worker_type_dpu.W.1X: DPUs per worker must be more than 0 and at most 100, got 1000",
        ]
    );
    // A catalogue name in another case is a new name to Glue, with a "did you mean".
    let said = warnings(
        "version: 1\nstack: {name: guard}\nboundaries: {max_dpu: 40}\nworker_type_dpu: {g.1x: 2}\n",
    );
    assert_eq!(
        said,
        [
            "p.yaml:4:19: worker_type_dpu.g.1x: `g.1x` is not in this build's Glue catalogue (did you mean `G.1X`?): 2 DPU per worker as given here"
        ],
    );
}

#[test]
fn unquoted_glue_versions_get_a_helpful_message() {
    let text = "version: 1\nstack: {name: guard}\nboundaries:\n  allowed_glue_versions: [4.0, 5.10]\n\
                overrides:\n  - name: new\n    principals: [\"arn:aws:iam::*:role/New\"]\n\
                \x20   boundaries: {allowed_glue_versions: [6.0]}\n";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:4:27: boundaries.allowed_glue_versions[0]: write \"4.0\" in quotes: YAML reads an unquoted 4.0 as a number, not as the Glue version",
            "p.yaml:4:32: boundaries.allowed_glue_versions[1]: write \"5.10\" in quotes: YAML reads an unquoted 5.10 as a number, not as the Glue version",
            "p.yaml:8:42: overrides[0].boundaries.allowed_glue_versions[0]: write \"6.0\" in quotes: YAML reads an unquoted 6.0 as a number, not as the Glue version",
        ]
    );
    // The jobs section's lists alike, each version at its place.
    let text = "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\njobs:\n  \
                boundaries: {allowed_glue_versions: [\"4.0\", 5.1]}\n  overrides:\n    - name: n\n      \
                job_names: [\"n-*\"]\n      boundaries: {allowed_glue_versions: [6.1]}\n";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:5:47: jobs.boundaries.allowed_glue_versions[1]: write \"5.1\" in quotes: YAML reads an unquoted 5.1 as a number, not as the Glue version",
            "p.yaml:9:44: jobs.overrides[0].boundaries.allowed_glue_versions[0]: write \"6.1\" in quotes: YAML reads an unquoted 6.1 as a number, not as the Glue version",
        ]
    );
}

#[test]
fn an_expiry_written_as_a_number_is_told_what_a_time_looks_like() {
    let error = one_error(&format!(
        "{VALID}exempt_principals:\n  - principal: arn:aws:iam::123456789012:role/A\n    expires: 1733000000\n"
    ));
    assert!(
        error.ends_with(
            "exempt_principals[0].expires: expected text, got 1733000000 (an RFC 3339 time with a zone, like 2027-03-31T00:00:00Z)"
        ),
        "{error}"
    );
}

#[test]
fn principal_patterns_must_be_arns() {
    let text = format!(
        "{VALID}exempt_principals: [\"*\", \"arn:aws:iam::*:role/BreakGlass\"]
overrides:
  - name: admins
    principals: [\"arn:aws:s3:::bucket\"]
    boundaries: {{max_workers: 20}}
"
    );
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:6:21: exempt_principals[0]: `*`: not an ARN pattern: expected `arn:PARTITION:iam::ACCOUNT:role/NAME` (or `user/NAME`, `assumed-role/ROLE/SESSION` under `sts`)",
            "p.yaml:9:18: overrides[0].principals[0]: `arn:aws:s3:::bucket`: principals are IAM or STS ARNs; service `s3` is neither",
        ]
    );
}

#[test]
fn override_names_are_unique_and_overrides_change_something() {
    let text = format!(
        "{VALID}overrides:
  - name: admins
    principals: [\"arn:aws:iam::*:role/A\"]
    boundaries: {{max_workers: 20}}
  - name: admins
    principals: []
    boundaries: {{}}
  - name: \"bad name!\"
    principals: [\"arn:aws:iam::*:role/C\"]
    boundaries: {{max_dpu: 4}}
"
    );
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:10:5: overrides[1].name: override name `admins` is used twice; names must be unique",
            "p.yaml:11:5: overrides[1].principals: list at least one principal ARN pattern (or session id pattern under session_ids)",
            "p.yaml:12:5: overrides[1].boundaries: an override must replace at least one boundary",
            "p.yaml:13:5: overrides[2].name: `bad name!` is not a valid override name: use 1 to 64 letters, digits, `-` or `_`",
        ]
    );
}

#[test]
fn emails_must_be_well_formed_and_present() {
    let text = format!(
        "{VALID}notifications:\n  emails: [ok@example.com, \"not an email\", OK@example.com]\nalarms: {{}}\n"
    );
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:7:28: notifications.emails[1]: `not an email` is not an email address",
            "p.yaml:7:44: notifications.emails[2]: `OK@example.com` is listed twice",
            "p.yaml:8:1: alarms.emails: list at least one address, or remove the section to send no email",
        ]
    );
}

#[test]
fn stack_name_region_and_tags() {
    let text = "version: 1
stack:
  name: 9-lives
  region: Europe
  tags: {\"aws:owner\": x, ok: \"bad{value}\"}
boundaries: {max_workers: 1}
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:3:3: stack.name: `9-lives` is not a valid stack name: start with a letter, then letters, digits or `-`, at most 55 characters (the function is named `<stack>-enforcer`, and Lambda names stop at 64)",
            "p.yaml:4:3: stack.region: `Europe` is not an AWS Region name (like `eu-west-1`)",
            "p.yaml:5:10: stack.tags.aws:owner: tag keys starting with `aws:` are reserved by AWS",
            "p.yaml:5:26: stack.tags.ok: a tag value must be 1 to 256 letters, digits, spaces and `_ . : / = + - @`",
        ]
    );
}

#[test]
fn stack_names_leave_room_for_the_function_name() {
    let ok = VALID.replace("name: guard", &format!("name: a{}", "b".repeat(54)));
    load_policy("p.yaml", ok.as_bytes()).unwrap();
    let long = VALID.replace("name: guard", &format!("name: a{}", "b".repeat(55)));
    assert!(one_error(&long).contains("at most 55 characters"));
}

#[test]
fn the_policy_must_fit_in_the_lambda_environment() {
    let with_overrides = |count: usize, principal: &dyn Fn(usize) -> String| {
        let mut text = VALID.to_string();
        text.push_str("overrides:\n");
        for i in 0..count {
            text.push_str(&format!(
                "  - name: team-{i}\n    principals: [\"arn:aws:iam::123456789012:role/{}\"]\n    boundaries: {{max_workers: {}}}\n",
                principal(i),
                i % 900 + 2
            ));
        }
        text
    };
    // 60 overrides of alike roles: more JSON than fits, but it travels compressed and fits.
    let alike = with_overrides(60, &|i| format!("TeamRole{i}"));
    let policy = load_policy("p.yaml", alike.as_bytes()).unwrap();
    let json = policy::runtime_policy_json(&policy);
    assert!(
        policy::runtime::environment_bytes(&policy, &json)
            > policy::limits::LAMBDA_ENVIRONMENT_BYTES
    );
    assert!(policy::runtime_policy_env(&policy).starts_with(policy::COMPRESSED_PREFIX));
    // 200 overrides of unrelated role names (pseudo-random hex): too much even compressed.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random_hex = |_: usize| {
        (0..4)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                format!("{:016x}", state >> 1)
            })
            .collect::<String>()
    };
    let names: Vec<String> = (0..200).map(&mut random_hex).collect();
    let unrelated = with_overrides(200, &|i| format!("R{}", names[i]));
    let error = one_error(&unrelated);
    assert!(
        error.starts_with("p.yaml:1:1: the enforcer's environment would take "),
        "{error}"
    );
    assert!(
        error.contains(
            "bytes as Lambda measures it (all variables as JSON, the policy compressed, the \
             CloudFormation-named topic's ARN at its longest), more than Lambda's 4096"
        ),
        "{error}"
    );
}

#[test]
fn limits_aws_enforces_on_what_the_policy_feeds_it_are_checked() {
    // CloudFormation `Tag`: Value "Minimum length of 1"; a Region that does not exist; an idle
    // timeout above the timeout (Glue's usage profiles keep it within); a reservation with an
    // organization.
    let text = "version: 1
stack:
  name: guard
  region: eu-west-9
  tags: {team: \"\"}
  reserved_concurrency: 0
boundaries:
  max_idle_timeout_minutes: 600
  max_timeout_minutes: 480
overrides:
  - name: long-idle
    principals: [\"arn:aws:iam::*:role/A\"]
    boundaries: {max_timeout_minutes: 60}
  - name: fine
    principals: [\"arn:aws:iam::*:role/B\"]
    boundaries: {max_idle_timeout_minutes: 30, max_timeout_minutes: 60}
  - name: inherits
    principals: [\"arn:aws:iam::*:role/C\"]
    boundaries: {max_workers: 3}
usage_profiles:
  defaults: {timeout_minutes: 60, idle_timeout_minutes: 90}
";
    let all = errors(text);
    let expected = [
        "p.yaml:4:3: stack.region: `eu-west-9` is not an AWS Region this build knows",
        "p.yaml:5:10: stack.tags.team: a tag value must not be empty: CloudFormation's stack tags take 1 to 256 characters (remove the tag instead)",
        "p.yaml:6:3: stack.reserved_concurrency: must be between 1 and 1000, got 0; leave it out to reserve nothing",
        "p.yaml:8:3: boundaries.max_idle_timeout_minutes: max_idle_timeout_minutes (600) is above max_timeout_minutes (480)",
        "p.yaml:13:18: overrides[0].boundaries.max_timeout_minutes: max_idle_timeout_minutes (600) is above max_timeout_minutes (60)",
        "p.yaml:21:35: usage_profiles.defaults.idle_timeout_minutes: 90 is above timeout_minutes (60)",
    ];
    for start in expected {
        assert!(
            all.iter().any(|line| line.starts_with(start)),
            "{start}\nnot in {all:#?}"
        );
    }
    // Neither an override within the limit nor one that sets neither key (the base's conflict
    // is said once, where it is written) is told.
    assert!(
        !all.iter()
            .any(|line| line.contains("overrides[1]") || line.contains("overrides[2]")),
        "{all:#?}"
    );
    let error = one_error(
        "version: 1\nstack: {name: guard, reserved_concurrency: 5}\nboundaries: {max_workers: 2}\n\
         organization: {id: o-a1b2c3d4e5, organizational_units: [r-ab12], regions: [eu-west-1]}\n",
    );
    assert!(
        error.starts_with("p.yaml:2:22: stack.reserved_concurrency: cannot be checked in the accounts an organization's stack set reaches"),
        "{error}"
    );
    let policy = load_policy(
        "p.yaml",
        b"version: 1\nstack: {name: guard, reserved_concurrency: 5}\nboundaries: {max_workers: 2}\n",
    )
    .unwrap();
    assert_eq!(policy.stack.reserved_concurrency, Some(5));
    assert!(
        !policy::runtime_policy_json(&policy).contains("reserved"),
        "deploy-time only"
    );
}

#[test]
fn yaml_alias_bombs_and_deep_nesting_end_in_an_error() {
    let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    assert!(!errors(bomb).is_empty());
    let deep = format!(
        "version: 1\nstack: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(!errors(&deep).is_empty());
}

#[test]
fn every_shape_problem_in_a_file_is_reported_in_the_users_words() {
    let text = "version: 1
stack: {name: guard}
enforcement: {mode: audit, wait_for_ready_seconds: soon}
boundaries:
  max_worker: 5
  max_dpu: lots
  require_vpc_connection: yes
overrides:
  - name: big
    principals: [\"arn:aws:iam::*:role/Big\"]
    boundaries: {max_workers: [1]}
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:3:28: enforcement.wait_for_ready_seconds: expected a whole number of seconds from 1 to 780, got \"soon\"",
            "p.yaml:5:3: boundaries.max_worker: unknown key; did you mean `max_workers`?",
            "p.yaml:6:3: boundaries.max_dpu: expected a number from 0.25 to 16000, got \"lots\"",
            "p.yaml:7:3: boundaries.require_vpc_connection: expected true or false, got \"yes\"",
            "p.yaml:11:18: overrides[0].boundaries.max_workers: expected a whole number from 1 to 1000, got a list",
        ]
    );
}

#[test]
fn contradictions_are_refused_or_warned_about() {
    // Audit mode never deletes: a warning, since the action takes effect once mode is enforce.
    let text = "version: 1\nstack: {name: g}\nenforcement: {mode: audit, action: delete}\nboundaries: {max_workers: 5}\n";
    assert_eq!(
        warnings(text),
        vec![
            "p.yaml:3:28: enforcement.action: `delete` does nothing in audit mode, which never stops or deletes a session; it takes effect when mode becomes `enforce`"
        ]
    );
    // A max_dpu no session can stay under would stop every session.
    let text = "version: 1\nstack: {name: g}\nboundaries: {max_dpu: 3, allowed_worker_types: [G.2X, G.4X]}\noverrides:\n  - name: tiny\n    principals: [\"arn:aws:iam::*:role/T\"]\n    boundaries: {max_dpu: 1}\n";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:3:14: boundaries.max_dpu: 3 is below the smallest session Glue allows with the allowed worker types (2 x G.2X = 4 DPU): every session would be stopped",
            "p.yaml:7:18: overrides[0].boundaries.max_dpu: 1 is below the smallest session Glue allows with the allowed worker types (2 x G.2X = 4 DPU): every session would be stopped",
        ]
    );
    assert!(policy::load_policy("p.yaml", b"version: 1\nstack: {name: g}\nboundaries: {max_dpu: 4, allowed_worker_types: [G.2X]}\n").is_ok());
    // An account id that is not 12 digits can never match.
    let text = "version: 1\nstack: {name: g}\nboundaries: {max_workers: 5}\nexempt_principals: [\"arn:aws:iam::12345:role/BreakGlass\", \"arn:aws:iam::1234*:role/X\"]\n";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:4:21: exempt_principals[0]: `arn:aws:iam::12345:role/BreakGlass`: account `12345` must be 12 digits (an AWS account id), `*`, or a glob of digits, `*` and `?` (without `*`, exactly 12 characters)"
        ]
    );
}

#[test]
fn a_network_is_subnets_and_security_groups_by_id_and_stays_out_of_the_runtime_policy() {
    let text = format!(
        "{VALID}network:\n  subnet_ids: [subnet-0123abcd, subnet-0123456789abcdef0]\n  \
         security_group_ids: [sg-0123456789abcdef0]\n"
    );
    let policy = load_policy("p.yaml", text.as_bytes()).unwrap();
    let network = policy.network.as_ref().expect("the network is read");
    assert_eq!(
        network.subnet_ids,
        ["subnet-0123abcd", "subnet-0123456789abcdef0"]
    );
    assert_eq!(network.security_group_ids, ["sg-0123456789abcdef0"]);
    // Only deploy needs it: the Lambda's environment does not carry it.
    let runtime = policy::runtime_policy_json(&policy);
    assert!(
        !runtime.contains("network") && !runtime.contains("subnet"),
        "{runtime}"
    );
    assert_eq!(
        policy::parse_runtime_policy(&runtime).unwrap().network,
        None
    );
}

#[test]
fn network_ids_must_be_ec2_ids_listed_once_and_within_lambdas_limits() {
    let text = format!(
        "{VALID}network:
  subnet_ids: [subnet-0123abcd, subnet-XYZ, subnet-0123abcd, subnet-0123abc, sg-0123abcd]
  security_group_ids: []
"
    );
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:7:33: network.subnet_ids[1]: `subnet-XYZ` is not a subnet id: `subnet-` and 8 or 17 lowercase hexadecimal digits, like `subnet-0123456789abcdef0`",
            "p.yaml:7:45: network.subnet_ids[2]: `subnet-0123abcd` is listed twice",
            "p.yaml:7:62: network.subnet_ids[3]: `subnet-0123abc` is not a subnet id: `subnet-` and 8 or 17 lowercase hexadecimal digits, like `subnet-0123456789abcdef0`",
            "p.yaml:7:78: network.subnet_ids[4]: `sg-0123abcd` is not a subnet id: `subnet-` and 8 or 17 lowercase hexadecimal digits, like `subnet-0123456789abcdef0`",
            "p.yaml:8:3: network.security_group_ids: list at least one security group; remove `network` to run outside a VPC",
        ]
    );

    let subnets: Vec<String> = (0..17).map(|i| format!("subnet-{i:08x}")).collect();
    let groups: Vec<String> = (0..6).map(|i| format!("sg-{i:017x}")).collect();
    let text = format!(
        "{VALID}network:\n  subnet_ids: [{}]\n  security_group_ids: [{}]\n",
        subnets.join(", "),
        groups.join(", ")
    );
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:7:3: network.subnet_ids: at most 16 subnets (Lambda's limit for a function), got 17",
            "p.yaml:8:3: network.security_group_ids: at most 5 security groups (Lambda's limit for a function), got 6",
        ]
    );
    let at_the_limit = format!(
        "{VALID}network:\n  subnet_ids: [{}]\n  security_group_ids: [{}]\n",
        subnets[..16].join(", "),
        groups[..5].join(", ")
    );
    load_policy("p.yaml", at_the_limit.as_bytes()).unwrap();
}

#[test]
fn a_network_has_exactly_its_two_lists() {
    let error = one_error(&format!(
        "{VALID}network:\n  subnet_ids: [subnet-0123abcd]\n"
    ));
    assert_eq!(
        error,
        "p.yaml:6:1: network: the required key `security_group_ids` is missing"
    );
    let error = one_error(&format!(
        "{VALID}network:\n  subnet_ids: [subnet-0123abcd]\n  security_group_ids: [sg-0123abcd]\n  vpc_id: vpc-0123abcd\n"
    ));
    assert_eq!(
        error,
        "p.yaml:9:3: network.vpc_id: unknown key; the keys here are `subnet_ids`, `security_group_ids`"
    );
    let error = one_error(&format!(
        "{VALID}network:\n  subnet_ids: subnet-0123abcd\n  security_group_ids: [sg-0123abcd]\n"
    ));
    assert_eq!(
        error,
        "p.yaml:7:3: network.subnet_ids: expected a list, got \"subnet-0123abcd\""
    );
    let error = one_error(&format!("{VALID}network: [subnet-0123abcd]\n"));
    assert_eq!(
        error,
        "p.yaml:6:1: network: expected a mapping with the keys `subnet_ids`, `security_group_ids`, got a list"
    );
}

#[test]
fn a_required_key_of_the_wrong_type_hides_no_other_problem() {
    // `version` and `stack.name` are unreadable: each is reported, and a stand-in lets every
    // other problem of the file be reported in the same pass.
    let text = "version: \"1\"
stack: {name: [x], tags: {\"aws:x\": y}}
enforcement: {wait_for_ready_seconds: 900}
boundaries:
  max_dpu: 0.1
  allowed_worker_types: [G.1X, G.1X]
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:1:1: version: expected the format version, 1, got \"1\"",
            "p.yaml:2:9: stack.name: expected text, got a list",
            "p.yaml:2:27: stack.tags.aws:x: tag keys starting with `aws:` are reserved by AWS",
            "p.yaml:3:15: enforcement.wait_for_ready_seconds: must be between 1 and 780 (the Lambda runs at most 900 s), got 900",
            "p.yaml:5:3: boundaries.max_dpu: must be between 0.25 and 16000, got 0.1",
            "p.yaml:6:32: boundaries.allowed_worker_types[1]: `G.1X` is listed twice",
        ]
    );
}

#[test]
fn what_was_taken_out_is_said_once_at_its_place_as_written() {
    // The second override's unreadable boundaries, after the first override was taken out:
    // said once at `overrides[1]`, never as a missing key; an exemption whose principal cannot
    // be read goes whole, and what follows is still checked.
    let text = "version: 1
stack: {name: g}
boundaries: {max_workers: 10}
overrides:
  - {principals: [\"arn:aws:iam::*:role/A\"], boundaries: {max_workers: 3}}
  - {name: b, principals: [\"arn:aws:iam::*:role/B\"], boundaries: 5}
exempt_principals: [{principal: 5}]
notifications: {emails: [bad]}
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:5:5: overrides[0]: the required key `name` is missing",
            "p.yaml:6:54: overrides[1].boundaries: expected a mapping of boundaries (`max_workers`, `max_dpu`, …), got 5",
            "p.yaml:7:22: exempt_principals[0].principal: expected text, got 5 (YAML reads it as a number: quote it, \"5\")",
            "p.yaml:8:26: notifications.emails[0]: `bad` is not an email address",
        ]
    );
}

#[test]
fn a_budget_member_that_is_exempt_is_warned_about() {
    let text = format!(
        "{VALID}exempt_principals: [\"arn:aws:iam::*:role/BreakGlass\"]\nbudgets:\n  - name: b\n    \
         members: {{principals: [\"arn:aws:iam::*:role/BreakGlass\", \"arn:aws:iam::*:role/Team\"]}}\n    \
         max_concurrent_dpu: 10\n"
    );
    let warned = warnings(&text);
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(
        warned[0].contains("budgets[0].members.principals[0]: `arn:aws:iam::*:role/BreakGlass` is exempt (exempt_principals[0])"),
        "{warned:#?}"
    );
}

/// AWS allows an empty tag value and tags are matched by their exact value: an empty one in a
/// budget's members or a route matches only an empty tag, which is warned about.
#[test]
fn an_empty_tag_value_for_members_or_routes_is_warned_about() {
    let text = format!(
        "{VALID}budgets:\n  - name: b\n    members: {{tags: {{team: \"\", cost-center: \"42\"}}}}\n    \
         max_concurrent_dpu: 10\n"
    );
    let warned = warnings(&text);
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(
        warned[0].contains("budgets[0].members.tags.team: the value is empty: only a session or job run whose tag `team` is there and empty matches"),
        "{warned:#?}"
    );
    let text = format!(
        "{VALID}notifications:\n  emails: [ops@example.com]\n  routes:\n    - name: a\n      \
         tags: {{team: \"\"}}\n      emails: [a@example.com]\n"
    );
    let warned = warnings(&text);
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(
        warned[0].contains("notifications.routes[0].tags.team: the value is empty"),
        "{warned:#?}"
    );
}

/// A message that names another element names it as written, also after an element before it
/// was taken out (an exemption without its `principal`).
#[test]
fn a_message_names_another_element_as_written_after_one_was_taken_out() {
    let text = format!(
        "{VALID}exempt_principals:\n  - {{reason: no principal}}\n  - arn:aws:iam::123456789012:role/Ops\n\
         usage_profiles:\n  roles:\n    - role: arn:aws:iam::123456789012:role/Ops\n"
    );
    let all = errors(&text);
    assert!(
        all.iter()
            .any(|e| e.contains("exempt_principals[0]: the required key `principal` is missing")),
        "{all:#?}"
    );
    assert!(
        all.iter().any(|e| e.contains(
            "usage_profiles.roles[0].role: `arn:aws:iam::123456789012:role/Ops` matches exempt_principals[1]:"
        )),
        "{all:#?}"
    );
}

/// A key written with no value is null to YAML, which an optional setting would read as "not
/// set": a slip that drops a limit or makes an exception permanent. Each is an error at its
/// place, and the rest of the file is still checked.
#[test]
fn a_key_with_no_value_is_an_error_never_a_missing_setting() {
    let text = "version: 1
stack:
  name: guard
boundaries:
  max_workers:
  max_dpu: 20
overrides:
  - name: backfill
    principals: [\"arn:aws:iam::*:role/Backfill\"]
    boundaries: {max_workers: 50}
    expires:
exempt_principals:
  - {principal: \"arn:aws:iam::123456789012:role/IR\", expires: ~}
  - principal: \"arn:aws:iam::123456789012:role/Ops\"
    reason: null
notifications:
  emails: [ops@example.com, bad]
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:5:3: boundaries.max_workers: `max_workers` has no value (YAML reads a key with nothing after it, `~` or `null` as null): write its value, or leave the key out",
            "p.yaml:11:5: overrides[0].expires: `expires` has no value (YAML reads a key with nothing after it, `~` or `null` as null): write its value, or leave the key out",
            "p.yaml:13:54: exempt_principals[0].expires: `expires` has no value (YAML reads a key with nothing after it, `~` or `null` as null): write its value, or leave the key out",
            "p.yaml:15:5: exempt_principals[1].reason: `reason` has no value (YAML reads a key with nothing after it, `~` or `null` as null): write its value, or leave the key out",
            "p.yaml:17:29: notifications.emails[1]: `bad` is not an email address",
        ]
    );
    // What holds a key with no value is still checked (an exemption listed twice), but not said
    // to hold nothing because of it (boundaries whose one limit had no value).
    let text = "version: 1
stack:
  name: guard
boundaries:
  max_workers:
exempt_principals:
  - \"arn:aws:iam::123456789012:role/Ops\"
  - principal: \"arn:aws:iam::123456789012:role/Ops\"
    reason: ~
";
    let all = errors(text);
    assert!(
        all.iter().any(|e| e.contains(
            "exempt_principals[1]: `arn:aws:iam::123456789012:role/Ops` is listed twice"
        )),
        "{all:#?}"
    );
    assert!(
        !all.iter().any(|e| e.contains("set at least one boundary")),
        "{all:#?}"
    );
    assert_eq!(all.len(), 3, "{all:#?}");
    // A required key with no value is told it is required, in a list element too; the rest is
    // still checked.
    let text = "version: 1
stack:
  name: guard
boundaries: {max_workers: 10}
overrides:
  - name:
    principals: [\"arn:aws:iam::*:role/A\"]
    boundaries: {max_workers: 0}
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:6:5: overrides[0].name: `name` has no value (YAML reads a key with nothing after it, `~` or `null` as null): it is required: write its value",
            "p.yaml:8:18: overrides[0].boundaries.max_workers: must be between 1 and 1000, got 0",
        ]
    );
}

/// A principal exempted twice could stay exempt after one entry's expiry unseen: an error. An
/// expiring entry that a permanent pattern also exempts ends nothing: a warning.
#[test]
fn an_exemption_listed_twice_or_outlasted_by_a_pattern_is_said() {
    let text = format!(
        "{VALID}exempt_principals:\n  - {{principal: \"arn:aws:iam::123456789012:role/IR\", expires: \"2026-12-01T00:00:00Z\"}}\n  \
         - \"arn:aws:iam::123456789012:role/IR\"\n"
    );
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:8:5: exempt_principals[1]: `arn:aws:iam::123456789012:role/IR` is listed twice (also exempt_principals[0]): list each principal once, with its one `expires` if any"
        ]
    );
    let text = format!(
        "{VALID}exempt_principals:\n  - {{principal: \"arn:aws:iam::123456789012:role/IR\", expires: \"2099-12-01T00:00:00Z\"}}\n  \
         - \"arn:aws:iam::*:role/I*\"\n"
    );
    let warned = warnings(&text);
    assert_eq!(
        warned,
        vec![
            "p.yaml:7:6: exempt_principals[0].principal: exempt_principals[1] (`arn:aws:iam::*:role/I*`) exempts `arn:aws:iam::123456789012:role/IR` with no end: this entry's `expires` ends nothing"
        ]
    );
}

/// Routes without a default list: what no route takes (a reminder of an expiring exception
/// among it) would reach nobody.
#[test]
fn routes_without_a_default_list_are_warned_about() {
    let text = format!(
        "{VALID}notifications:\n  routes:\n    - {{name: a, tags: {{team: a}}, emails: [a@example.com]}}\n"
    );
    assert_eq!(
        warnings(&text),
        vec![
            "p.yaml:6:1: notifications: no default list (emails, slack or teams): a notification no route takes (a session or job run no route matches, a reminder of an expiring exception) reaches nobody"
        ]
    );
    let with_default = format!(
        "{VALID}notifications:\n  emails: [ops@example.com]\n  routes:\n    - {{name: a, tags: {{team: a}}, emails: [a@example.com]}}\n"
    );
    assert_eq!(warnings(&with_default), Vec::<String>::new());
}

/// An error about a whole list entry written in block style is located at the entry's first
/// key, as one written in flow style is at its `{`.
#[test]
fn a_block_list_entry_is_located_where_it_is_written() {
    let text =
        format!("{VALID}overrides:\n  - name: nob\n    principals: [\"arn:aws:iam::*:role/A\"]\n");
    assert_eq!(
        errors(&text),
        vec!["p.yaml:7:5: overrides[0]: the required key `boundaries` is missing"]
    );
}

#[test]
fn a_required_key_missing_hides_no_other_problem() {
    // An override and an exemption without their required key are each reported and taken out
    // whole; `stack` without its name gets a stand-in. Every other problem is still reported,
    // at its place as written (the second override is `overrides[1]` in the file).
    let text = "version: 1
stack: {tags: {\"aws:x\": y}}
boundaries: {max_workers: 0}
overrides:
  - {principals: [\"arn:aws:iam::*:role/A\"], boundaries: {max_workers: 3}}
  - {name: b, principals: [\"arn:aws:iam::*:role/B\"], boundaries: {max_workers: 0}}
exempt_principals: [{reason: x}]
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:2:1: stack: the required key `name` is missing",
            "p.yaml:2:16: stack.tags.aws:x: tag keys starting with `aws:` are reserved by AWS",
            "p.yaml:3:14: boundaries.max_workers: must be between 1 and 1000, got 0",
            "p.yaml:5:5: overrides[0]: the required key `name` is missing",
            "p.yaml:6:67: overrides[1].boundaries.max_workers: must be between 1 and 1000, got 0",
            "p.yaml:7:21: exempt_principals[0]: the required key `principal` is missing",
        ]
    );
}

/// `VALID` with an `organization` section of these lines (each indented by two spaces).
fn with_organization(lines: &[&str]) -> String {
    let mut text = format!("{VALID}organization:\n");
    for line in lines {
        text.push_str(&format!("  {line}\n"));
    }
    // Last, so that the lines above keep their numbers.
    if !lines.iter().any(|line| line.starts_with("id:")) {
        text.push_str("  id: o-a1b2c3d4e5\n");
    }
    text
}

#[test]
fn an_organization_is_read_with_its_defaults_and_stays_out_of_the_runtime_policy() {
    use policy::model::{CallAs, RegionConcurrency};
    let text = with_organization(&["organizational_units: [r-ab12]", "regions: [eu-west-1]"]);
    let policy = load_policy("p.yaml", text.as_bytes()).unwrap();
    let organization = policy.organization.as_ref().expect("the section is read");
    assert_eq!(organization.organizational_units, ["r-ab12"]);
    assert_eq!(organization.accounts, None);
    assert_eq!(organization.regions, ["eu-west-1"]);
    assert!(organization.auto_deployment);
    assert!(!organization.retain_stacks_on_account_removal);
    assert_eq!(organization.max_concurrent_percentage, 25);
    assert_eq!(organization.failure_tolerance_percentage, 0);
    assert_eq!(organization.region_concurrency, RegionConcurrency::Parallel);
    assert_eq!(organization.call_as, CallAs::SelfAccount);
    assert_eq!(organization.notifications_topic_arn, None);
    // AWS's names for what the template passes on.
    assert_eq!(RegionConcurrency::Parallel.as_str(), "PARALLEL");
    assert_eq!(RegionConcurrency::Sequential.as_str(), "SEQUENTIAL");
    assert_eq!(CallAs::SelfAccount.as_str(), "SELF");
    assert_eq!(CallAs::DelegatedAdmin.as_str(), "DELEGATED_ADMIN");
    // Only deploy needs it: the Lambda's environment does not carry it.
    let runtime = policy::runtime_policy_json(&policy);
    assert!(
        !runtime.contains("organization") && !runtime.contains("r-ab12"),
        "{runtime}"
    );
    assert_eq!(
        policy::parse_runtime_policy(&runtime).unwrap().organization,
        None
    );
}

#[test]
fn the_organization_sample_is_valid_and_round_trips_with_its_defaults_written_out() {
    use policy::model::{CallAs, RegionConcurrency};
    let text = include_str!("../../policies/samples/organization.yaml");
    let policy = load_policy("policies/samples/organization.yaml", text.as_bytes()).unwrap();
    let organization = policy.organization.as_ref().expect("the section is read");
    assert_eq!(
        organization.organizational_units,
        ["ou-ab12-11111111", "ou-ab12-22222222"]
    );
    // Every account of the OUs (an account filter needs auto_deployment off).
    assert_eq!(organization.accounts, None);
    assert_eq!(
        organization.regions,
        ["eu-west-1", "eu-central-1", "us-east-1"]
    );
    assert!(organization.auto_deployment);
    assert!(!organization.retain_stacks_on_account_removal);
    assert_eq!(organization.max_concurrent_percentage, 25);
    assert_eq!(organization.failure_tolerance_percentage, 10);
    assert_eq!(organization.region_concurrency, RegionConcurrency::Parallel);
    assert_eq!(organization.call_as, CallAs::SelfAccount);
    assert_eq!(
        organization.notifications_topic_arn.as_deref(),
        Some("arn:aws:sns:eu-west-1:111122223333:glue-guard-central")
    );

    // Written out again (defaults included), it is a valid policy that reads back the same.
    let minimal = with_organization(&[
        "organizational_units: [ou-ab12-11111111]",
        "regions: [us-gov-west-1]",
    ]);
    for policy in [policy, load_policy("p.yaml", minimal.as_bytes()).unwrap()] {
        let yaml = serde_yaml::to_string(&policy).unwrap();
        for key in [
            "auto_deployment: true",
            "retain_stacks_on_account_removal: false",
            "region_concurrency: parallel",
            "call_as: self",
        ] {
            assert!(yaml.contains(key), "{key} in:\n{yaml}");
        }
        assert_eq!(load_policy("again.yaml", yaml.as_bytes()).unwrap(), policy);
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            serde_json::from_str::<policy::Policy>(&json).unwrap(),
            policy
        );
    }
}

#[test]
fn every_catalogued_region_and_both_kinds_of_id_are_accepted() {
    // A stack set stays in one partition: the catalogue's Regions, one partition at a time.
    let mut seen = 0;
    for partition in ["aws", "aws-cn", "aws-us-gov"] {
        let regions: Vec<&str> = policy::catalogue::AWS_REGIONS
            .iter()
            .copied()
            .filter(|region| policy::catalogue::partition_of_region(region) == partition)
            .collect();
        let text = with_organization(&[
            "organizational_units: [r-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d, ou-a1b2-c3d4e5f6, ou-ab12cd34ef56ab78cd90ef12ab34cd56-ab12cd34ef56ab78cd90ef12ab34cd56]",
            "accounts: [\"012345678901\", 012345678902, 999999999999]",
            &format!("regions: [{}]", regions.join(", ")),
            "region_concurrency: sequential",
            "call_as: delegated_admin",
            "max_concurrent_percentage: 100",
            "failure_tolerance_percentage: 100",
            "auto_deployment: false",
            "notifications_topic_arn: arn:aws-cn:sns:cn-north-1:111122223333:Guard_Central-1",
        ]);
        let policy = load_policy("p.yaml", text.as_bytes()).unwrap();
        let organization = policy.organization.unwrap();
        // YAML keeps an unquoted id with a leading zero as text: no digit is lost.
        assert_eq!(
            organization.accounts.unwrap(),
            ["012345678901", "012345678902", "999999999999"]
        );
        assert_eq!(organization.regions, regions);
        seen += regions.len();
    }
    assert_eq!(seen, policy::catalogue::AWS_REGIONS.len());
}

#[test]
fn organization_ids_regions_and_percentages_are_checked_each_at_its_place() {
    let text = with_organization(&[
        "organizational_units: [ou-ab12-11111111, OU-AB12-22222222, ou-ab1-22222222, r-ab12, ou-ab12-11111111]",
        "accounts: [111122223333, 11112222333, \"1111-2222-3333\", 111122223333]",
        "regions: [eu-west-1, eu-west-4, Ireland, eu-central-1, eu-west-1]",
        "max_concurrent_percentage: 0",
        "failure_tolerance_percentage: 101",
        "auto_deployment: false",
    ]);
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:7:44: organization.organizational_units[1]: `OU-AB12-22222222` is not an OU id (`ou-`, 4 to 32 lowercase letters or digits, `-`, 8 to 32 more, like `ou-ab12-11111111`) or a root id (`r-` and 4 to 32, like `r-ab12`)",
            "p.yaml:7:62: organization.organizational_units[2]: `ou-ab1-22222222` is not an OU id (`ou-`, 4 to 32 lowercase letters or digits, `-`, 8 to 32 more, like `ou-ab12-11111111`) or a root id (`r-` and 4 to 32, like `r-ab12`)",
            "p.yaml:7:87: organization.organizational_units[4]: `ou-ab12-11111111` is listed twice",
            "p.yaml:8:28: organization.accounts[1]: `11112222333` is not an AWS account id: 12 digits, like `111122223333`",
            "p.yaml:8:41: organization.accounts[2]: `1111-2222-3333` is not an AWS account id: 12 digits, like `111122223333`",
            "p.yaml:8:59: organization.accounts[3]: `111122223333` is listed twice",
            "p.yaml:9:24: organization.regions[1]: `eu-west-4` is not an AWS Region this build knows; the `eu-` Regions are eu-central-1, eu-central-2, eu-north-1, eu-south-1, eu-south-2, eu-west-1, eu-west-2, eu-west-3",
            "p.yaml:9:35: organization.regions[2]: `Ireland` is not an AWS Region name (like `eu-west-1`)",
            "p.yaml:9:58: organization.regions[4]: `eu-west-1` is listed twice",
            "p.yaml:10:3: organization.max_concurrent_percentage: must be between 1 and 100 (percent of a Region's accounts deployed to at once), got 0",
            "p.yaml:11:3: organization.failure_tolerance_percentage: must be between 0 and 100 (percent of a Region's accounts that may fail before the operation stops), got 101",
        ]
    );
    let text = with_organization(&[
        "organizational_units: [r-ab12]",
        "regions: [eu-west-1]",
        "max_concurrent_percentage: 101",
    ]);
    assert_eq!(
        one_error(&text),
        "p.yaml:9:3: organization.max_concurrent_percentage: must be between 1 and 100 (percent of a Region's accounts deployed to at once), got 101"
    );
}

#[test]
fn the_organization_id_has_its_shape() {
    for bad in [
        "o-short",
        "O-A1B2C3D4E5",
        "org-a1b2c3d4e5",
        "o-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e",
    ] {
        assert_eq!(
            one_error(&with_organization(&[
                "organizational_units: [r-ab12]",
                "regions: [eu-west-1]",
                &format!("id: {bad}"),
            ])),
            format!(
                "p.yaml:9:3: organization.id: `{bad}` is not an organization id: `o-` and 10 to 32 lowercase letters or digits, like `o-a1b2c3d4e5`"
            )
        );
    }
}

#[test]
fn an_organization_stays_in_one_partition() {
    let text = with_organization(&[
        "organizational_units: [r-ab12]",
        "regions: [eu-west-1, cn-north-1, us-east-1, us-gov-west-1]",
    ]);
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:8:24: organization.regions[1]: `cn-north-1` is in the partition `aws-cn`, but `eu-west-1` is in `aws`: a stack set deploys within one partition",
            "p.yaml:8:47: organization.regions[3]: `us-gov-west-1` is in the partition `aws-us-gov`, but `eu-west-1` is in `aws`: a stack set deploys within one partition",
        ]
    );
}

#[test]
fn an_organization_needs_units_and_regions_and_an_account_list_that_is_not_empty() {
    let text = with_organization(&["regions: []", "accounts: []", "auto_deployment: false"]);
    assert_eq!(
        errors(&text),
        vec![
            "p.yaml:6:1: organization.organizational_units: list at least one OU id (like `ou-ab12-11111111`), or the root id (like `r-ab12`) to deploy to the whole organization",
            "p.yaml:7:3: organization.regions: list at least one Region to deploy to",
            "p.yaml:8:3: organization.accounts: an empty list deploys to no account; remove the key to deploy to every account in the organizational units",
        ]
    );
    // Both lists missing: each said, at the section.
    assert_eq!(
        errors(&format!("{VALID}organization: {{}}\n")),
        vec![
            "p.yaml:6:1: organization.id: give the organization's id (`o-` and 10 to 32 lowercase letters or digits, as `aws organizations describe-organization` prints it): member accounts are let in by it (aws:PrincipalOrgID)",
            "p.yaml:6:1: organization.organizational_units: list at least one OU id (like `ou-ab12-11111111`), or the root id (like `r-ab12`) to deploy to the whole organization",
            "p.yaml:6:1: organization.regions: list at least one Region to deploy to",
        ]
    );
}

#[test]
fn the_central_topic_is_a_standard_sns_topic_of_a_known_region() {
    let topic = |arn: &str| {
        one_error(&with_organization(&[
            "organizational_units: [r-ab12]",
            "regions: [eu-west-1]",
            &format!("notifications_topic_arn: \"{arn}\""),
        ]))
    };
    let at = "p.yaml:9:3: organization.notifications_topic_arn: ";
    for (arn, reason) in [
        (
            "arn:aws:sns:eu-west-1:111122223333:central.fifo",
            "a FIFO topic needs a message group id on every message, which the enforcer does not send; use a standard topic",
        ),
        (
            "arn:aws:sqs:eu-west-1:111122223333:central",
            "expected `arn:aws:sns:<region>:<account>:<topic name>`",
        ),
        (
            "arn:aws:sns:eu-west-1:111122223333",
            "expected `arn:aws:sns:<region>:<account>:<topic name>`",
        ),
        (
            "arn:aws:sns:eu-west-1:1111:central",
            "the account `1111` is not 12 digits",
        ),
        (
            "arn:aws:sns:cn-north-1:111122223333:central",
            "the partition of `cn-north-1` is `aws-cn`, not `aws`",
        ),
        (
            "arn:aws:sns:mars-north-1:111122223333:central",
            "the Region `mars-north-1` is not an AWS Region name (like `eu-west-1`)",
        ),
        (
            "arn:aws:sns:eu-west-1:111122223333:central topic",
            "a topic name is 1 to 256 letters, digits, `-` or `_`",
        ),
        (
            "arn:aws:sns:eu-west-1:111122223333:",
            "a topic name is 1 to 256 letters, digits, `-` or `_`",
        ),
    ] {
        assert_eq!(
            topic(arn),
            format!("{at}`{arn}` is not the ARN of a standard SNS topic: {reason}")
        );
    }
    let longest = format!("arn:aws:sns:eu-west-1:111122223333:{}", "t".repeat(256));
    load_policy(
        "p.yaml",
        with_organization(&[
            "organizational_units: [r-ab12]",
            "regions: [eu-west-1]",
            &format!("notifications_topic_arn: {longest}"),
        ])
        .as_bytes(),
    )
    .unwrap();
    assert!(
        topic(&format!("{longest}t"))
            .ends_with("a topic name is 1 to 256 letters, digits, `-` or `_`")
    );
}

#[test]
fn organization_shape_problems_are_said_in_the_users_words() {
    let base = ["organizational_units: [r-ab12]", "regions: [eu-west-1]"];
    let with = |line: &str| {
        let mut lines = base.to_vec();
        lines.push(line);
        one_error(&with_organization(&lines))
    };
    assert_eq!(
        with("region: [eu-west-1]"),
        "p.yaml:9:3: organization.region: unknown key; did you mean `regions`?"
    );
    assert!(
        with("stack_set_name: guard")
            .starts_with("p.yaml:9:3: organization.stack_set_name: unknown key; the keys here are `id`, `organizational_units`, `accounts`, `regions`,"),
    );
    assert_eq!(
        with("region_concurrency: paralel"),
        "p.yaml:9:3: organization.region_concurrency: `paralel` is not `parallel` or `sequential`; did you mean `parallel`?"
    );
    assert_eq!(
        with("call_as: SELF"),
        "p.yaml:9:3: organization.call_as: `SELF` is not `self` or `delegated_admin`"
    );
    assert_eq!(
        with("max_concurrent_percentage: 25%"),
        "p.yaml:9:3: organization.max_concurrent_percentage: expected a whole number, got \"25%\""
    );
    assert_eq!(
        with("auto_deployment: sometimes"),
        "p.yaml:9:3: organization.auto_deployment: expected true or false, got \"sometimes\""
    );
    assert_eq!(
        with("accounts: [1.5]"),
        "p.yaml:9:14: organization.accounts[0]: expected an account id of 12 digits, got 1.5"
    );
    assert_eq!(
        one_error(&format!("{VALID}organization: [r-ab12]\n")),
        "p.yaml:6:1: organization: expected a mapping, got a list"
    );
}

#[test]
fn stacks_are_kept_on_account_removal_only_with_auto_deployment() {
    let text = with_organization(&[
        "organizational_units: [r-ab12]",
        "regions: [eu-west-1]",
        "auto_deployment: false",
        "retain_stacks_on_account_removal: true",
    ]);
    assert_eq!(
        one_error(&text),
        "p.yaml:10:3: organization.retain_stacks_on_account_removal: applies only with `auto_deployment: true` (StackSets keeps or removes the stack of an account that leaves the OUs only when it deploys to accounts that join them); remove it, or turn auto_deployment on"
    );
}

#[test]
fn an_override_name_that_makes_its_usage_profile_name_too_long_is_refused() {
    let stack = "s".repeat(55);
    let name = "o".repeat(64);
    let text = format!(
        "version: 1\nstack: {{name: {stack}}}\nboundaries: {{max_workers: 10}}\noverrides:\n  - name: {name}\n    principals: [\"arn:aws:iam::*:role/A\"]\n    boundaries: {{max_workers: 20}}\n"
    );
    assert_eq!(
        one_error(&text),
        format!(
            "p.yaml:5:5: overrides[0].name: `{name}` makes its Glue usage profile's name `{stack}-override-{name}` longer than the 128 characters CloudFormation allows; shorten the override's name or stack.name"
        )
    );
    // 63 characters fit: 55 + 10 + 63 = 128.
    let fits = text.replace(&name, &"o".repeat(63));
    assert!(load_policy("p.yaml", fits.as_bytes()).is_ok());
}

#[test]
fn an_account_filter_needs_auto_deployment_off() {
    let text = with_organization(&[
        "organizational_units: [r-ab12]",
        "regions: [eu-west-1]",
        "accounts: [\"111122223333\"]",
    ]);
    assert_eq!(
        one_error(&text),
        "p.yaml:9:3: organization.accounts: StackSets deploys to every account that joins the OUs whatever `accounts` says (automatic deployments ignore account filters): set `auto_deployment: false` to keep to these accounts, or remove `accounts`"
    );
    let off = format!("{text}  auto_deployment: false\n");
    assert!(load_policy("p.yaml", off.as_bytes()).is_ok());
}

#[test]
fn session_types_auto_scaling_and_session_id_patterns_are_checked() {
    let text = "version: 1
stack: {name: guard}
boundaries:
  allowed_session_types: [LIVY, spark-connect, LIVY]
  require_auto_scaling: true
overrides:
  - name: previews
    session_ids: [\"glue-studio-datapreview-*\", \"*\", \"\"]
    boundaries: {max_workers: 2}
  - name: nobody
    principals: []
    session_ids: []
    boundaries: {max_workers: 3}
exempt_session_ids: [\"keep-*\", \"keep-*\"]
";
    assert_eq!(
        errors(text),
        vec![
            "p.yaml:4:33: boundaries.allowed_session_types[1]: `spark-connect`: not a Glue session type: Glue names them in capitals (LIVY, SPARK_CONNECT)",
            "p.yaml:4:48: boundaries.allowed_session_types[2]: `LIVY` is listed twice",
            "p.yaml:8:48: overrides[0].session_ids[1]: a bare `*` matches every session; change the boundaries themselves instead",
            "p.yaml:8:53: overrides[0].session_ids[2]: ``: a session id pattern is 1 to 255 characters on one line (like `glue-studio-datapreview-*`)",
            "p.yaml:11:5: overrides[1].principals: list at least one principal ARN pattern (or session id pattern under session_ids)",
            "p.yaml:14:32: exempt_session_ids[1]: `keep-*` is listed twice",
        ]
    );
    // A session type this build lacks, shaped like Glue's: a warning, never a refusal.
    let text = "version: 1\nstack: {name: guard}\nboundaries: {allowed_session_types: [SPARK_CONNECT, NEXT_KIND]}\n";
    assert_eq!(
        warnings(text),
        [
            "p.yaml:3:53: boundaries.allowed_session_types[1]: `NEXT_KIND` is not a session type this build knows (LIVY, SPARK_CONNECT): accepted as written"
        ]
    );
}

#[test]
fn usage_profile_defaults_name_their_worker_type_as_data() {
    let text = "version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
usage_profiles:
  defaults: {worker_type: G.2X.GRAVITON}
";
    assert!(warnings(text).is_empty());
    let text = "version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
usage_profiles:
  defaults: {worker_type: G.3X.NEXT}
";
    assert_eq!(
        warnings(text),
        [
            "p.yaml:5:14: usage_profiles.defaults.worker_type: `G.3X.NEXT` is not in this build's Glue catalogue: accepted; its DPUs are taken from its name (3 per worker), or give them in worker_type_dpu"
        ]
    );
    let text = "version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
usage_profiles:
  defaults: {worker_type: \"G 2X\"}
";
    assert_eq!(
        one_error(text),
        "p.yaml:5:14: usage_profiles.defaults.worker_type: `G 2X`: not a Glue worker type name: Glue takes 1 to 128 letters, digits, `_`, `.` and `-` (like `G.1X`)"
    );
}

#[test]
fn picking_sessions_by_id_alone_warns_that_their_creator_chooses_the_id() {
    let text = "version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
overrides:
  - name: previews
    session_ids: [\"glue-studio-datapreview-*\"]
    boundaries: {max_workers: 2}
  - name: team-previews
    principals: [\"arn:aws:iam::*:role/Team\"]
    session_ids: [\"glue-studio-datapreview-*\"]
    boundaries: {max_workers: 4}
exempt_session_ids: [\"keep-*\"]
";
    let warnings = warnings(text);
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].starts_with("p.yaml:6:5: overrides[0].session_ids: a session id is chosen by whoever creates the session"), "{}", warnings[0]);
    assert!(
        warnings[1].starts_with("p.yaml:12:1: exempt_session_ids: a session id is chosen"),
        "{}",
        warnings[1]
    );
}

/// The policy is published with the stack (and in the enforcer's environment): a credential in
/// any of its strings is refused where it was written, whatever the field.
#[test]
fn credentials_in_any_string_are_refused_naming_the_field() {
    let text = format!(
        "{VALID}notifications:
  emails: [platform@example.com]
  exception_instructions: \"Post to https://hooks.slack.com/services/T000/B000/XXXXXXXX\"
overrides:
  - name: backfill
    principals: [\"arn:aws:iam::123456789012:role/Backfill\"]
    boundaries: {{max_workers: 20}}
    reason: \"ran as AKIAIOSFODNN7EXAMPLE until the role existed\"
"
    );
    let said = errors(&text);
    assert_eq!(said.len(), 2, "{said:#?}");
    assert!(
        said[0].starts_with(
            "p.yaml:8:3: notifications.exception_instructions: holds a Slack webhook URL;"
        ),
        "{}",
        said[0]
    );
    assert!(
        said[1].starts_with("p.yaml:13:5: overrides[0].reason: holds an AWS access key id"),
        "{}",
        said[1]
    );
    assert!(said[1].contains("revoke this one"), "{}", said[1]);

    // What checkov's CKV_AWS_45 takes for a secret access key is ordinary policy text here.
    let long_role = format!(
        "{VALID}exempt_principals: [\"arn:aws:iam::123456789012:role/DataPlatformAnalyticsBackfillRunner\"]\n"
    );
    load_policy("p.yaml", long_role.as_bytes()).unwrap();
}

/// `history.athena`, read by `backtest --athena` only: each name as Athena takes it, the scope's
/// ids and Regions, a limit and a window that bound something; and never in the Lambda's policy.
#[test]
fn the_history_section_is_checked_where_it_was_written_and_stays_out_of_the_runtime_policy() {
    let good = format!(
        "{VALID}history:
  athena:
    database: security
    table: org_trail
    workgroup: backtest.team-1
    output_location: s3://athena-results/backtest/
    accounts: [\"111122223333\"]
    regions: [eu-west-1]
    max_scan_gb: 20
    days: 90
"
    );
    let policy = load_policy("p.yaml", good.as_bytes()).unwrap();
    let athena = policy.history.as_ref().unwrap().athena.as_ref().unwrap();
    assert_eq!(athena.table.as_deref(), Some("org_trail"));
    assert_eq!(athena.days, Some(90));
    assert!(policy::runtime_policy(&policy).history.is_none());
    assert!(!policy::runtime_policy_json(&policy).contains("org_trail"));

    let bad = format!(
        "{VALID}history:
  athena:
    database: Security
    table: org-trail
    workgroup: \"back test\"
    output_location: athena-results/backtest/
    accounts: [\"11112222333\", \"111122223333\", \"111122223333\"]
    regions: [eu-west-9]
    max_scan_gb: 0
    days: 0
"
    );
    let said = errors(&bad);
    let fields: Vec<&str> = said
        .iter()
        .map(|line| line.split(": ").nth(1).unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "history.athena.database",
            "history.athena.table",
            "history.athena.workgroup",
            "history.athena.output_location",
            "history.athena.accounts[0]",
            "history.athena.accounts[2]",
            "history.athena.regions[0]",
            "history.athena.max_scan_gb",
            "history.athena.days",
        ],
        "{said:#?}"
    );
    assert!(said[0].starts_with("p.yaml:8:5: "), "{}", said[0]);
    assert!(said[5].contains("listed twice"), "{}", said[5]);

    // An organization's Regions in two partitions: the second is named at its place.
    assert_eq!(
        one_error(&format!(
            "{VALID}history:\n  athena:\n    regions: [eu-west-1, cn-north-1]\n"
        )),
        "p.yaml:8:26: history.athena.regions[1]: `cn-north-1` is in the partition `aws-cn`, but \
         `eu-west-1` is in `aws`: an organization and its trail are in one partition"
    );
    assert_eq!(
        one_error(&format!("{VALID}history: {{}}\n")),
        "p.yaml:6:1: history: give `athena` (the CloudTrail table `backtest --athena` reads), or remove the section"
    );
}

/// Every bad element of a list is named at its own index and place, as written: the elements
/// taken out before it do not shift it. A number where text belongs says to quote it.
#[test]
fn each_bad_list_element_is_named_at_its_own_index_and_place() {
    let errors = errors(
        "version: 1\nstack: {name: guard}\nboundaries: {allowed_worker_types: [G.1X, 1, G.2X, 2]}\n\
         history:\n  athena:\n    accounts: [111122223333, \"444455556666\", 777788889999]\n",
    );
    assert_eq!(
        errors,
        [
            "p.yaml:3:43: boundaries.allowed_worker_types[1]: expected text, got 1 (YAML reads it \
             as a number: quote it, \"1\")",
            "p.yaml:3:52: boundaries.allowed_worker_types[3]: expected text, got 2 (YAML reads it \
             as a number: quote it, \"2\")",
            "p.yaml:6:16: history.athena.accounts[0]: expected text, got 111122223333 (YAML reads \
             it as a number: quote it, \"111122223333\")",
            "p.yaml:6:46: history.athena.accounts[2]: expected text, got 777788889999 (YAML reads \
             it as a number: quote it, \"777788889999\")",
        ]
    );
}

/// The rules a verdict can name are the boundary keys serde reads, all of them (serde names
/// every field it expects when it meets one it does not know), and the budget's rule.
#[test]
fn the_rules_listed_are_the_boundary_keys_read() {
    let error = serde_yaml::from_str::<policy::Boundaries>("not_a_key: 1\n")
        .err()
        .unwrap()
        .to_string();
    let expected = &error[error.find("expected").expect("a list")..];
    let mut read: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    read.push(policy::budgets::RULE);
    let mut listed = policy::RULES.to_vec();
    read.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, read, "{error}");
}
