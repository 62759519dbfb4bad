//! Tests for `render`: snapshots of every case in `tests/render-cases/`, properties every render
//! must have (parses back, deterministic, small enough, policy strings stay data), and the stack's
//! security structure, checked on the parsed YAML.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

use super::*;

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers

fn cases_dir() -> PathBuf {
    paths::root().join("tests/render-cases")
}

/// The sample policy of an organization deploy (StackSets), with a central topic: org mode.
fn organization_sample() -> PathBuf {
    paths::policies_dir().join("samples/organization.yaml")
}

/// Every render case: the default policy, then `tests/render-cases/*.yaml` by name, then the
/// organization sample.
fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/render-cases exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files.insert(0, paths::policies_dir().join("default.yaml"));
    files.push(organization_sample());
    files
}

fn load(path: &Path) -> policy::Policy {
    paths::load_policy(path).unwrap_or_else(|error| panic!("{error:#}"))
}

fn case(name: &str) -> policy::Policy {
    load(&cases_dir().join(format!("{name}.yaml")))
}

fn default_policy() -> policy::Policy {
    load(&paths::policies_dir().join("default.yaml"))
}

fn render(policy: &policy::Policy) -> String {
    render_stack(policy).unwrap_or_else(|error| panic!("{error}"))
}

fn parse(template: &str) -> Value {
    serde_yaml::from_str(template).expect("the rendered template parses as YAML")
}

fn rendered(policy: &policy::Policy) -> Value {
    parse(&render(policy))
}

fn intrinsic(name: &str, value: impl Into<Value>) -> Value {
    Value::Tagged(Box::new(TaggedValue {
        tag: Tag::new(name),
        value: value.into(),
    }))
}

fn ref_to(name: &str) -> Value {
    intrinsic("Ref", name)
}

fn get_att(path: &str) -> Value {
    intrinsic("GetAtt", path)
}

fn sub(text: &str) -> Value {
    intrinsic("Sub", text)
}

/// A YAML value written inline, to compare a property with.
fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("valid YAML")
}

fn resources(doc: &Value) -> &Mapping {
    doc["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
}

fn logical_ids(doc: &Value) -> BTreeSet<String> {
    resources(doc)
        .keys()
        .map(|key| key.as_str().expect("string logical id").to_string())
        .collect()
}

/// The resource `id`; panics naming it when it is missing.
fn resource<'a>(doc: &'a Value, id: &str) -> &'a Value {
    resources(doc)
        .get(id)
        .unwrap_or_else(|| panic!("the stack has no resource {id}"))
}

fn properties<'a>(doc: &'a Value, id: &str) -> &'a Value {
    &resource(doc, id)["Properties"]
}

fn of_type<'a>(doc: &'a Value, type_name: &str) -> Vec<(&'a str, &'a Value)> {
    resources(doc)
        .iter()
        .filter(|(_, body)| body["Type"] == type_name)
        .map(|(id, body)| (id.as_str().expect("string logical id"), body))
        .collect()
}

fn statements(document: &Value) -> &Vec<Value> {
    document["Statement"]
        .as_sequence()
        .expect("a policy document has a Statement list")
}

fn with_sid<'a>(document: &'a Value, sid: &str) -> &'a Value {
    statements(document)
        .iter()
        .find(|statement| statement["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

/// A field that may be one value or a list of values, as a list.
fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Sequence(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Every string anywhere inside `value` (tag payloads included).
fn strings_in(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) => found.push(text.clone()),
        Value::Sequence(items) => items.iter().for_each(|item| strings_in(item, found)),
        Value::Mapping(map) => map.iter().for_each(|(key, item)| {
            strings_in(key, found);
            strings_in(item, found);
        }),
        Value::Tagged(tagged) => strings_in(&tagged.value, found),
        _ => {}
    }
}

/// Every `!Ref` / `!GetAtt` target in `value`.
fn references_in(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => {
            found.push(
                tagged
                    .value
                    .as_str()
                    .expect("Ref names a string")
                    .to_string(),
            );
        }
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            let path = tagged.value.as_str().expect("GetAtt as Resource.Attribute");
            found.push(path.split('.').next().unwrap_or_default().to_string());
        }
        // `!Sub "…${Name}…"`: each `${Name}` (or `${Resource.Attribute}`) is a reference.
        Value::Tagged(tagged) if tagged.tag == "Sub" && tagged.value.is_string() => {
            let mut text = tagged.value.as_str().unwrap_or_default();
            while let Some(start) = text.find("${") {
                let rest = &text[start + 2..];
                let Some(end) = rest.find('}') else { break };
                let name = &rest[..end];
                if !name.starts_with('!') {
                    found.push(name.split('.').next().unwrap_or_default().to_string());
                }
                text = &rest[end + 1..];
            }
        }
        Value::Tagged(tagged) => references_in(&tagged.value, found),
        Value::Sequence(items) => items.iter().for_each(|item| references_in(item, found)),
        Value::Mapping(map) => map.values().for_each(|item| references_in(item, found)),
        _ => {}
    }
}

/// Resources that carry a `Tags` property; there must be none (deploy tags the stack instead).
fn tagged_resources(doc: &Value) -> Vec<&str> {
    resources(doc)
        .iter()
        .filter(|(_, body)| body["Properties"].get("Tags").is_some())
        .map(|(id, _)| id.as_str().expect("string logical id"))
        .collect()
}

/// The checkov checks resource `id` skips (its `Metadata.checkov.skip`), in order, each with the
/// reason given.
fn checkov_skips(doc: &Value, id: &str) -> Vec<(String, String)> {
    one_or_many(&resource(doc, id)["Metadata"]["checkov"]["skip"])
        .iter()
        .map(|skip| {
            (
                skip["id"]
                    .as_str()
                    .expect("a skip names its check")
                    .to_string(),
                skip["comment"]
                    .as_str()
                    .expect("a skip gives its reason")
                    .to_string(),
            )
        })
        .collect()
}

fn skipped_ids(doc: &Value, id: &str) -> Vec<String> {
    checkov_skips(doc, id)
        .into_iter()
        .map(|(check, _)| check)
        .collect()
}

/// `count` tags as long as validation allows (128-character keys, 256-character values), made
/// of `letter`, as policy YAML lines under `stack.tags`.
fn maximal_tags_yaml(count: usize, letter: char) -> String {
    (0..count)
        .map(|tag| {
            let key = format!("{tag:03}{}", letter.to_string().repeat(125));
            format!("    \"{key}\": \"{}\"\n", letter.to_string().repeat(256))
        })
        .collect()
}

/// The rule logical ids a policy's stack must have.
fn rule_ids(policy: &policy::Policy) -> Vec<&'static str> {
    let mut ids = vec!["CreateSessionRule"];
    if policy.jobs.is_some() {
        ids.push("JobRule");
    }
    if policy.sweep.every_minutes != 0 {
        ids.push("SweepRule");
    }
    ids
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("gsg-render-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Snapshots

#[test]
fn every_case_matches_its_snapshot() {
    let files = case_files();
    assert!(
        files.len() >= 5,
        "expected the default policy and four cases"
    );
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let template = render(&load(&file));
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
            description => format!(
                "cargo xtask render --policy {}",
                file.strip_prefix(paths::root()).unwrap_or(&file).display()
            ),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("render-{name}"), template);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Properties of every render

#[test]
fn every_case_parses_back_with_intrinsic_tags_and_no_dangling_references() {
    for file in case_files() {
        let doc = rendered(&load(&file));
        let mut known: BTreeSet<String> = logical_ids(&doc);
        for parameter in doc["Parameters"].as_mapping().expect("Parameters").keys() {
            known.insert(parameter.as_str().unwrap().to_string());
        }
        let mut references = Vec::new();
        references_in(&doc["Resources"], &mut references);
        references_in(&doc["Outputs"], &mut references);
        assert!(!references.is_empty());
        for target in references {
            assert!(
                known.contains(&target) || target.starts_with("AWS::"),
                "{}: reference to missing {target}",
                file.display()
            );
        }
        // Every parameter is used.
        let mut used = Vec::new();
        references_in(&doc["Resources"], &mut used);
        for parameter in doc["Parameters"].as_mapping().unwrap().keys() {
            assert!(
                used.iter()
                    .any(|name| parameter.as_str() == Some(name.as_str()))
            );
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    for file in case_files() {
        let policy = load(&file);
        let first = render(&policy);
        let second = render(&policy.clone());
        let third = render(&load(&file));
        assert_eq!(first, second, "{}", file.display());
        assert_eq!(first, third, "{}", file.display());
    }
}

/// A policy with the longest stack name, 50 maximal tags, as many long overrides as still
/// validate (its runtime policy, compressed, fills the Lambda's environment) and the most subnets
/// and security groups Lambda takes stays under the TemplateBody limit: the tags are printed
/// once, in the metadata.
#[test]
fn the_largest_valid_policy_with_50_maximal_tags_renders_whole_within_every_aws_limit() {
    let policy_text = |overrides: usize| {
        let mut text = format!(
            "version: 1\nstack:\n  name: g{}\n  tags:\n",
            "x".repeat(MAX_STACK_NAME_CHARS - 1)
        );
        text.push_str(&maximal_tags_yaml(50, 'k'));
        text.push_str(
            "enforcement: {wait_for_ready_seconds: 780}\nsweep: {every_minutes: 1}\n\
             boundaries: {max_workers: 10, max_dpu: 20, allowed_worker_types: [G.1X, G.2X], \
             max_idle_timeout_minutes: 120, max_timeout_minutes: 480, \
             require_vpc_connection: true, allowed_connections: [a-vpc, b-vpc], \
             allowed_glue_versions: [\"4.0\", \"5.0\"], required_tags: [owner, team]}\n\
             overrides:\n",
        );
        for i in 0..overrides {
            text.push_str(&format!(
                "  - name: override-{i:02}-{}\n    principals: [\"arn:aws:iam::123456789012:role/\
                 {}*\"]\n    boundaries: {{max_workers: 50, allowed_worker_types: [G.1X, G.2X, \
                 G.4X, G.8X], max_timeout_minutes: 2880}}\n",
                "x".repeat(40),
                "LongRoleName".repeat(6),
            ));
        }
        text.push_str(
            "notifications:\n  emails: [a@example.com, b@example.com, c@example.com]\n  \
             exception_instructions: \"Ask the data platform team in #data-platform.\"\n\
             alarms:\n  emails: [oncall@example.com]\n",
        );
        // As many subnets and security groups as Lambda takes, with the longer ids.
        let ids = |prefix: &str, count: usize| {
            (0..count)
                .map(|i| format!("{prefix}{i:017x}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        text.push_str(&format!(
            "network:\n  subnet_ids: [{}]\n  security_group_ids: [{}]\n",
            ids("subnet-", policy::validate::MAX_SUBNETS),
            ids("sg-", policy::validate::MAX_SECURITY_GROUPS)
        ));
        text
    };
    // The most overrides that validate: a bisection (validity only shrinks as overrides grow).
    let valid = |overrides: usize| {
        policy::load_policy("large.yaml", policy_text(overrides).as_bytes()).ok()
    };
    let (mut low, mut high) = (1, 4096);
    assert!(valid(low).is_some(), "one override validates");
    assert!(
        valid(high).is_none(),
        "4096 overrides do not fit even compressed"
    );
    while high - low > 1 {
        let middle = (low + high) / 2;
        if valid(middle).is_some() {
            low = middle;
        } else {
            high = middle;
        }
    }
    let (overrides, policy) = (low, valid(low).unwrap());
    assert!(overrides >= 50, "only {overrides} overrides validate");
    // Its runtime JSON is far over the environment's budget: it travels compressed.
    assert!(policy::runtime_policy_json(&policy).len() > policy::limits::LAMBDA_ENVIRONMENT_BYTES);
    assert!(policy::runtime_policy_env(&policy).starts_with(policy::COMPRESSED_PREFIX));
    assert_eq!(policy.stack.tags.len(), 50);
    assert_eq!(
        policy
            .network
            .as_ref()
            .map(|network| network.subnet_ids.len()),
        Some(16)
    );
    // Rendered whole (render checks every AWS limit on it): past TemplateBody's 51,200 bytes,
    // within TemplateURL's 1 MB, with its readable policy and every comment.
    let template = render(&policy);
    assert!(
        template.len() > policy::limits::CLOUDFORMATION_TEMPLATE_BODY_BYTES
            && template.len() < MAX_TEMPLATE_BYTES,
        "{} bytes with {overrides} overrides",
        template.len()
    );
    let doc = parse(&template);
    assert_eq!(
        doc["Metadata"]["GlueSessionGuard"]["StackTags"]
            .as_mapping()
            .map(Mapping::len),
        Some(50)
    );
    assert_eq!(
        doc["Metadata"]["GlueSessionGuard"]["Policy"]["overrides"]
            .as_sequence()
            .map(Vec::len),
        Some(overrides)
    );
    assert!(template.contains("\n  # The enforcer's role."));
}

/// Validation counts characters, the limit counts bytes: 50 maximal tags of two-byte letters
/// are valid, and (printed once, in the metadata) fit what CloudFormation takes from S3.
#[test]
fn valid_tags_of_two_byte_letters_render() {
    let text = format!(
        "version: 1\nstack:\n  name: gsg-big-tags\n  tags:\n{}boundaries: {{max_workers: 4}}\n",
        maximal_tags_yaml(50, '\u{e9}')
    );
    let policy = policy::load_policy("big-tags.yaml", text.as_bytes())
        .unwrap_or_else(|error| panic!("the tags are valid: {error:#}"));
    let template = render_stack(&policy).expect("50 maximal two-byte tags fit");
    assert!(template.len() > policy::limits::CLOUDFORMATION_TEMPLATE_BODY_BYTES);
}

#[test]
fn the_size_check_passes_up_to_the_limit_and_names_the_largest_field_beyond_it() {
    let at_limit = "x".repeat(MAX_TEMPLATE_BYTES);
    assert_eq!(
        fits_in_template_url(at_limit.clone(), &default_policy()).unwrap(),
        at_limit
    );

    let over = "x".repeat(MAX_TEMPLATE_BYTES + 1);
    let too_large = |policy: &policy::Policy| {
        fits_in_template_url(over.clone(), policy).expect_err("one byte over the limit")
    };
    let mut policy = default_policy();
    // Without overrides, whose usage profiles would add the most (a case of its own below).
    policy.overrides.clear();
    policy.stack.tags.clear();
    policy.stack.tags.insert("team".into(), "data".into());
    let error = too_large(&policy);
    assert!(
        matches!(
            error,
            RenderError::TooLarge { field: "notifications.emails", bytes, field_bytes: 25 }
                if bytes == MAX_TEMPLATE_BYTES + 1
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "notifications.emails: the rendered template is 1048577 bytes, more than the 1048576 \
         CloudFormation takes from S3 (TemplateURL), and notifications.emails make up 25 bytes of \
         it: use fewer or shorter ones"
    );

    policy.alarms.as_mut().unwrap().emails =
        (0..10).map(|i| format!("oncall-{i}@example.com")).collect();
    assert!(matches!(
        too_large(&policy),
        RenderError::TooLarge {
            field: "alarms.emails",
            ..
        }
    ));

    policy.stack.tags.insert("k".repeat(128), "v".repeat(256));
    assert!(matches!(
        too_large(&policy),
        RenderError::TooLarge {
            field: "stack.tags",
            field_bytes: 392,
            ..
        }
    ));
}

/// Many overrides with settings of their own: a usage profile each. Past the limit, the error
/// names them.
#[test]
fn too_many_distinct_overrides_are_named_when_the_template_is_too_large() {
    let mut policy = default_policy();
    for i in 0..3000_u32 {
        policy.overrides.push(policy::Override {
            name: format!("team-{i:03}"),
            principals: vec![format!("arn:aws:iam::123456789012:role/Team{i:03}")],
            session_ids: Vec::new(),
            boundaries: policy::Boundaries {
                max_workers: Some(11 + i),
                ..policy::Boundaries::default()
            },
            expires: None,
            reason: None,
            ticket: None,
        });
    }
    let error = render_stack(&policy).expect_err("3000 profiles do not fit");
    assert!(
        matches!(error, RenderError::TooLarge { field: "overrides", field_bytes, .. } if field_bytes > 900_000),
        "{error:?}"
    );
}

/// Strings that would be structure if pasted into YAML or Jinja unquoted.
const HOSTILE: &[&str] = &[
    "x\n  Evil: {Type: AWS::IAM::User}",
    "x\nResources:\n  Evil:\n    Type: AWS::IAM::User",
    "{{ 7*7 }}",
    "{% if true %}yes{% endif %}",
    "{# comment #}",
    "key: value # comment",
    "it's \"quoted\"",
    "!Ref GuardKey",
    "${AWS::AccountId}",
    "*alias",
    "&anchor x",
    "- item",
    "? key",
    "| block",
    "> folded",
    "--- \n...",
    "%YAML 1.2",
    "@at `back`",
    "[1, 2]",
    "tab\there, cr\r, nul\0, backslash\\",
    "del\u{7f} nel\u{85} ls\u{2028} ps\u{2029} bom\u{feff} end",
    "  leading and trailing spaces  ",
    "",
    "true",
    "0123",
    "1e3",
    "null",
    "~",
];

/// Hostile strings in every policy field the template prints (tags, emails, region) and in the
/// runtime policy (exception instructions, connections) come back from the YAML as exactly the
/// same strings, and the stack keeps exactly its resources.
#[test]
fn hostile_policy_strings_stay_scalar_data() {
    let base = default_policy();
    let expected_ids = logical_ids(&rendered(&base));
    for (i, hostile) in HOSTILE.iter().enumerate() {
        let mut policy = base.clone();
        policy.stack.tags.clear();
        policy
            .stack
            .tags
            .insert(format!("key {hostile}"), hostile.to_string());
        policy
            .stack
            .tags
            .insert("plain".to_string(), hostile.to_string());
        policy.stack.region = Some(format!("r{hostile}"));
        let notifications = policy.notifications.as_mut().unwrap();
        notifications.emails = vec![hostile.to_string(), format!("{hostile}@example.com")];
        notifications.exception_instructions = Some(hostile.to_string());
        policy.alarms.as_mut().unwrap().emails = vec![format!("alarm {hostile}")];
        policy.boundaries.allowed_connections = Some(vec![hostile.to_string()]);

        let template = render(&policy);
        let doc: Value = serde_yaml::from_str(&template)
            .unwrap_or_else(|error| panic!("case {i} {hostile:?}: {error}\n{template}"));
        assert_eq!(logical_ids(&doc), expected_ids, "case {i} {hostile:?}");
        assert!(of_type(&doc, "AWS::IAM::User").is_empty());

        assert!(
            tagged_resources(&doc).is_empty(),
            "case {i} {hostile:?}: no resource has Tags"
        );
        let metadata = &doc["Metadata"]["GlueSessionGuard"];
        assert_eq!(
            metadata["StackTags"].as_mapping().map(Mapping::len),
            Some(2),
            "case {i} {hostile:?}"
        );
        for (key, value) in &policy.stack.tags {
            assert_eq!(
                metadata["StackTags"][key.as_str()],
                value.as_str(),
                "case {i} {hostile:?}"
            );
        }
        assert_eq!(metadata["Region"], format!("r{hostile}").as_str());

        let endpoints: Vec<Value> =
            one_or_many(&properties(&doc, "NotificationTopic")["Subscription"])
                .iter()
                .map(|subscription| subscription["Endpoint"].clone())
                .collect();
        assert_eq!(
            endpoints,
            vec![
                Value::from(hostile.to_string()),
                Value::from(format!("{hostile}@example.com"))
            ]
        );
        assert_eq!(
            properties(&doc, "AlarmTopic")["Subscription"][0]["Endpoint"],
            format!("alarm {hostile}").as_str()
        );
        let variables = &properties(&doc, "EnforcerFunction")["Environment"]["Variables"];
        assert_eq!(
            variables["GSG_POLICY"],
            policy::runtime_policy_json(&policy).as_str(),
            "case {i} {hostile:?}"
        );
    }
}

/// Network ids reach the template only as EC2 ids: the role's interface resources are one string
/// split on commas, so render refuses anything else even in a policy that skipped validation.
#[test]
fn network_ids_that_are_not_ec2_ids_are_refused_naming_the_field() {
    let mut policy = case("network");
    assert!(render_stack(&policy).is_ok());
    for hostile in HOSTILE
        .iter()
        .map(|text| text.to_string())
        .chain(["subnet-0123abcd,arn:aws:ec2:*:*:subnet/*".to_string()])
    {
        let mut bad = policy.clone();
        bad.network.as_mut().unwrap().subnet_ids[1] = hostile.clone();
        let error = render_stack(&bad).expect_err(&hostile);
        assert!(
            error.to_string().starts_with("network.subnet_ids[1]: `"),
            "{error}"
        );
        let mut bad = policy.clone();
        bad.network.as_mut().unwrap().security_group_ids[0] = format!("sg-{hostile}");
        let error = render_stack(&bad).expect_err(&hostile);
        assert!(matches!(
            error,
            RenderError::InvalidNetworkId { ref field, .. } if field == "network.security_group_ids[0]"
        ));
    }
    policy.network.as_mut().unwrap().subnet_ids[0] = "subnet-0123ABCD".into();
    assert!(
        render_stack(&policy).is_err(),
        "upper case is not how EC2 writes ids"
    );
}

/// The same for a policy that validates (`tests/render-cases/quoting.yaml`): its odd strings are
/// values, never structure.
#[test]
fn valid_policy_strings_with_yaml_and_jinja_syntax_stay_data() {
    let policy = case("quoting");
    let doc = rendered(&policy);
    // The same resources (usage profiles follow the overrides, which differ).
    let without_profiles = |doc: &Value| {
        let mut ids = logical_ids(doc);
        ids.retain(|id| !id.starts_with("UsageProfile") || id == "UsageProfileDefault");
        ids
    };
    let sessions_only = policy::Policy {
        jobs: None,
        budgets: Vec::new(),
        ..default_policy()
    };
    assert_eq!(
        without_profiles(&doc),
        without_profiles(&rendered(&sessions_only))
    );
    let endpoints: Vec<Value> = one_or_many(&properties(&doc, "NotificationTopic")["Subscription"])
        .iter()
        .map(|subscription| subscription["Endpoint"].clone())
        .collect();
    assert_eq!(
        endpoints,
        ["{{7*7}}#ops@example.com", "a|b&c{%d%}~e@example.com"].map(Value::from)
    );
    let tags = &doc["Metadata"]["GlueSessionGuard"]["StackTags"];
    assert_eq!(tags["a:b"], "@ref");
    assert_eq!(tags["note"], "x: y - z");
    let variables = &properties(&doc, "EnforcerFunction")["Environment"]["Variables"];
    assert_eq!(
        variables["GSG_POLICY"],
        policy::runtime_policy_json(&policy).as_str()
    );
    let template = render(&policy);
    assert!(template.contains("{{7*7}}#ops@example.com"));
    assert!(
        !template.contains("49"),
        "Jinja in the policy must not be evaluated"
    );
}

#[test]
fn printing_a_value_without_the_data_filter_is_an_error() {
    let env = environment().unwrap();
    let context = minijinja::context! { name => "a: b", list => vec!["x"] };
    assert_eq!(
        env.render_str("{{ name | data }}", &context).unwrap(),
        "\"a: b\""
    );
    let error = env.render_str("{{ name }}", &context).unwrap_err();
    assert!(error.to_string().contains("| data"), "{error}");
    let error = env.render_str("{{ list | data }}", &context).unwrap_err();
    assert!(
        error.to_string().contains("strings, numbers and booleans"),
        "{error}"
    );
    assert!(env.render_str("{{ missing | data }}", &context).is_err());
    assert!(
        env.render_str("{% if missing %}x{% endif %}", &context)
            .is_err()
    );
}

#[test]
fn every_printed_expression_in_the_template_goes_through_data() {
    let (_, source) = TEMPLATES[0];
    let mut from = 0;
    let mut printed = 0;
    while let Some(found) = source[from..].find("{{") {
        let start = from + found;
        let end = source[start..].find("}}").expect("closed expression") + start;
        let expression = source[start + 2..end].trim();
        let before = &source[..start];
        let inside_comment = before.rfind("{#") > before.rfind("#}");
        if !inside_comment {
            printed += 1;
            assert!(
                expression.ends_with("| data")
                    || expression.ends_with("| key")
                    || expression.ends_with("| json"),
                "`{{{{ {expression} }}}}` is printed without `| data` (or `| key`, `| json`)"
            );
        }
        from = end + 2;
    }
    assert!(printed > 10);
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[test]
fn a_stack_name_cloudformation_rejects_is_an_error_naming_the_field() {
    let mut policy = default_policy();
    for name in ["9lives", "has_underscore", "", "x\n  Evil: 1"] {
        policy.stack.name = name.to_string();
        let error = render_stack(&policy).expect_err(name);
        assert!(matches!(error, RenderError::InvalidStackName { .. }));
        assert!(error.to_string().starts_with("stack.name: "), "{error}");
    }
}

#[test]
fn a_stack_name_too_long_for_the_function_name_is_an_error() {
    let mut policy = default_policy();
    policy.stack.name = format!("g{}", "x".repeat(MAX_STACK_NAME_CHARS - 1));
    let doc = rendered(&policy);
    assert_eq!(
        doc["Metadata"]["GlueSessionGuard"]["StackName"],
        policy.stack.name.as_str()
    );
    policy.stack.name.push('x');
    let error = render_stack(&policy).expect_err("one character too long");
    assert!(matches!(
        error,
        RenderError::StackNameTooLong { chars: 56, .. }
    ));
    assert!(error.to_string().starts_with("stack.name: "), "{error}");
    assert_eq!(MAX_STACK_NAME_CHARS + FUNCTION_NAME_SUFFIX.len(), 64);
}

// ---------------------------------------------------------------------------------------------
// The stack's structure, item by item

#[test]
fn the_key_rotates_has_an_alias_and_only_the_right_principals_use_it() {
    let doc = rendered(&default_policy());
    let key = properties(&doc, "GuardKey");
    assert_eq!(key["EnableKeyRotation"], true);
    let alias = properties(&doc, "GuardKeyAlias");
    assert_eq!(alias["TargetKeyId"], ref_to("GuardKey"));
    assert_eq!(alias["AliasName"], sub("alias/${GuardName}"));

    let account_root = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root");
    let usage = [
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKey*",
        "kms:Encrypt",
    ];
    let lambda = sub("lambda.${AWS::Region}.amazonaws.com");
    let function_arn = sub(
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${GuardName}-enforcer",
    );
    let mut users = BTreeSet::new();
    for statement in statements(&key["KeyPolicy"]) {
        assert_eq!(statement["Effect"], "Allow");
        let actions = one_or_many(&statement["Action"]);
        let principal = &statement["Principal"];
        if statement["Sid"] == "AccountAdministersTheKey" {
            assert_eq!(principal["AWS"], account_root);
            assert!(actions.contains(&"kms:Put*".into()));
            assert!(actions.contains(&"kms:ScheduleKeyDeletion".into()));
            for action in &actions {
                let action = action.as_str().unwrap();
                assert!(
                    ![
                        "Encrypt",
                        "Decrypt",
                        "GenerateDataKey",
                        "ReEncrypt",
                        "*",
                        "Create*",
                        "CreateGrant"
                    ]
                    .iter()
                    .any(|verb| action == format!("kms:{verb}")),
                    "the administer statement must not grant {action}: a grant lets another \
                     principal use the key"
                );
            }
            continue;
        }
        if statement["Sid"] == "AccountGrantsTheKeyToAwsServicesOnly" {
            // Grants only for AWS services acting for the account (kms:GrantIsForAWSResource).
            assert_eq!(principal["AWS"], account_root);
            assert_eq!(statement["Action"], "kms:CreateGrant");
            assert_eq!(
                statement["Condition"]["Bool"]["kms:GrantIsForAWSResource"],
                "true"
            );
            continue;
        }
        assert!(
            actions
                .iter()
                .any(|action| usage.contains(&action.as_str().unwrap_or_default()))
        );
        let unconditional = principal["Service"] == "cloudwatch.amazonaws.com";
        assert_eq!(
            statement["Condition"].is_mapping(),
            !unconditional,
            "usage is conditional, except for CloudWatch alarms (their topic policy is)"
        );
        for service in one_or_many(&principal["Service"]) {
            users.insert(match service {
                Value::String(service) => service,
                tagged => format!("{tagged:?}"),
            });
        }
        if let Some(aws) = principal.get("AWS") {
            // Principals are the account (and its role in a condition), never a resource of
            // this stack: KMS refuses a principal it cannot see yet.
            assert_eq!(*aws, account_root, "{:?}", statement["Sid"]);
            let role = &statement["Condition"]["ArnEquals"]["aws:PrincipalArn"];
            let condition = &statement["Condition"]["StringEquals"];
            let through_lambda = condition["kms:ViaService"] == lambda;
            if through_lambda {
                // The enforcer's environment, and nothing else: this function's encryption
                // context.
                assert_eq!(
                    condition["kms:EncryptionContext:aws:lambda:FunctionArn"], function_arn,
                    "{:?}",
                    statement["Sid"]
                );
            }
            if role.is_null() {
                if through_lambda {
                    // Whoever creates or updates the function (CloudFormation's caller) encrypts
                    // its environment; people in the account may read it.
                    assert_eq!(
                        one_or_many(&statement["Action"]),
                        ["kms:Encrypt", "kms:Decrypt"].map(Value::from)
                    );
                    assert_eq!(condition["kms:CallerAccount"], ref_to("AWS::AccountId"));
                    users.insert("account via Lambda".to_string());
                } else {
                    // Operators read the DLQ through SQS only.
                    assert_eq!(
                        condition["kms:ViaService"],
                        sub("sqs.${AWS::Region}.amazonaws.com")
                    );
                    assert_eq!(
                        one_or_many(&statement["Action"]),
                        vec![Value::from("kms:Decrypt")]
                    );
                    users.insert("account via SQS".to_string());
                }
            } else {
                assert_eq!(*role, get_att("EnforcerRole.Arn"));
                if through_lambda {
                    // Lambda decrypts the environment with the role before the function starts.
                    assert_eq!(
                        one_or_many(&statement["Action"]),
                        vec![Value::from("kms:Decrypt")]
                    );
                    users.insert("enforcer role via Lambda".to_string());
                } else {
                    assert_eq!(
                        one_or_many(&condition["kms:ViaService"]),
                        [
                            sub("sns.${AWS::Region}.amazonaws.com"),
                            sub("sqs.${AWS::Region}.amazonaws.com")
                        ]
                    );
                    users.insert("enforcer role via SNS and SQS".to_string());
                }
            }
        }
    }
    let logs = format!("{:?}", sub("logs.${AWS::Region}.amazonaws.com"));
    let expected: BTreeSet<String> = [
        "sns.amazonaws.com",
        "sqs.amazonaws.com",
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "enforcer role via SNS and SQS",
        "enforcer role via Lambda",
        "account via SQS",
        "account via Lambda",
        logs.as_str(),
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(users, expected);
}

/// KMS, SNS and SQS refuse a resource policy whose principal they cannot see yet
/// (MalformedPolicyDocumentException, "invalid principal"), and CloudFormation does not retry
/// it: a role of the same stack, created seconds before, is named in a condition
/// (`aws:PrincipalArn`), never as a principal. Checked on every resource policy of every case.
#[test]
fn no_resource_policy_names_a_resource_of_the_stack_as_its_principal() {
    let documents = [
        ("AWS::KMS::Key", "KeyPolicy"),
        ("AWS::SNS::TopicPolicy", "PolicyDocument"),
        ("AWS::SQS::QueuePolicy", "PolicyDocument"),
    ];
    for file in case_files() {
        let doc = rendered(&load(&file));
        let mut checked = 0;
        for (type_name, property) in documents {
            for (id, body) in of_type(&doc, type_name) {
                for statement in statements(&body["Properties"][property]) {
                    let mut references = Vec::new();
                    references_in(&statement["Principal"], &mut references);
                    let own: Vec<&String> = references
                        .iter()
                        .filter(|name| !name.starts_with("AWS::"))
                        .collect();
                    assert!(
                        own.is_empty(),
                        "{}: {id} {:?} names {own:?} as principal",
                        file.display(),
                        statement["Sid"]
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 15, "{checked}");
    }
}

#[test]
fn both_topics_are_encrypted_subscribed_and_published_to_by_one_principal_each() {
    let policy = default_policy();
    let doc = rendered(&policy);
    for (topic, emails) in [
        (
            "NotificationTopic",
            &policy.notifications.as_ref().unwrap().emails,
        ),
        ("AlarmTopic", &policy.alarms.as_ref().unwrap().emails),
    ] {
        let properties = properties(&doc, topic);
        assert_eq!(properties["KmsMasterKeyId"], get_att("GuardKey.Arn"));
        let subscriptions = one_or_many(&properties["Subscription"]);
        assert_eq!(subscriptions.len(), emails.len());
        for (subscription, email) in subscriptions.iter().zip(emails) {
            assert_eq!(subscription["Protocol"], "email");
            assert_eq!(subscription["Endpoint"], email.as_str());
        }
    }
    let publishers = |policy_id: &str, topic: &str| {
        let properties = properties(&doc, policy_id);
        assert_eq!(one_or_many(&properties["Topics"]), vec![ref_to(topic)]);
        let allows: Vec<&Value> = statements(&properties["PolicyDocument"])
            .iter()
            .filter(|statement| statement["Effect"] == "Allow")
            .collect();
        assert_eq!(allows.len(), 1, "{policy_id}: one Allow");
        assert_eq!(allows[0]["Action"], "sns:Publish");
        assert_eq!(allows[0]["Resource"], ref_to(topic));
        allows[0]["Principal"].clone()
    };
    let principal = publishers("NotificationTopicPolicy", "NotificationTopic");
    assert_eq!(
        principal["AWS"],
        sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    );
    let allow = with_sid(
        &properties(&doc, "NotificationTopicPolicy")["PolicyDocument"],
        "EnforcerPublishes",
    );
    assert_eq!(
        allow["Condition"]["ArnEquals"]["aws:PrincipalArn"],
        get_att("EnforcerRole.Arn")
    );
    let deny = with_sid(
        &properties(&doc, "NotificationTopicPolicy")["PolicyDocument"],
        "NobodyElsePublishes",
    );
    assert_eq!(
        deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
        get_att("EnforcerRole.Arn")
    );
    let principal = publishers("AlarmTopicPolicy", "AlarmTopic");
    assert_eq!(principal["Service"], "cloudwatch.amazonaws.com");
}

#[test]
fn the_lambda_is_small_bounded_logged_and_reads_the_policy_from_its_environment() {
    let policy = default_policy();
    let doc = rendered(&policy);
    let function = properties(&doc, "EnforcerFunction");
    assert_eq!(function["Runtime"], "provided.al2023");
    assert_eq!(function["Handler"], "bootstrap");
    assert_eq!(function["Code"]["S3Bucket"], ref_to("CodeBucket"));
    assert_eq!(function["Code"]["S3Key"], ref_to("CodeKey"));
    assert_eq!(function["Architectures"][0], ref_to("Architecture"));
    let architecture = &doc["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "x86_64");
    assert_eq!(
        one_or_many(&architecture["AllowedValues"]),
        vec![Value::from("x86_64"), Value::from("arm64")]
    );
    assert_eq!(function["MemorySize"], 128);
    assert_eq!(function["Timeout"], 160, "wait_for_ready_seconds 100 + 60");
    // No reservation unless the policy asks for one (new accounts cannot give any), and no
    // parameter deploy would reset: the policy says it.
    assert!(function.get("ReservedConcurrentExecutions").is_none());
    assert!(doc["Parameters"].get("ReservedConcurrency").is_none());
    let mut reserving = policy.clone();
    reserving.stack.reserved_concurrency = Some(7);
    assert_eq!(
        properties(&rendered(&reserving), "EnforcerFunction")["ReservedConcurrentExecutions"],
        7
    );
    assert_eq!(function["FunctionName"], sub("${GuardName}-enforcer"));
    assert_eq!(function["Role"], get_att("EnforcerRole.Arn"));
    let variables = &function["Environment"]["Variables"];
    assert_eq!(
        variables["GSG_POLICY"],
        policy::runtime_policy_json(&policy).as_str()
    );
    assert_eq!(
        variables["NOTIFICATION_TOPIC_ARN"],
        ref_to("NotificationTopic")
    );
    assert_eq!(variables["STACK_NAME"], ref_to("GuardName"));
    assert!(
        variables.get("CENTRAL_TOPIC_ARN").is_none(),
        "no organization, no central topic"
    );
    assert_eq!(variables["LEDGER_TABLE"], ref_to("NotificationLedger"));
    // The environment (the whole runtime policy) is encrypted with the stack's key.
    assert_eq!(function["KmsKeyArn"], get_att("GuardKey.Arn"));
    assert!(
        function.get("VpcConfig").is_none(),
        "no network, no VpcConfig"
    );

    let log_group = properties(&doc, "EnforcerLogGroup");
    assert_eq!(
        log_group["LogGroupName"],
        sub("/aws/lambda/${GuardName}-enforcer")
    );
    assert_eq!(log_group["RetentionInDays"], 30);
    assert_eq!(log_group["KmsKeyId"], get_att("GuardKey.Arn"));
    // The function depends on its log group (through the Ref) and on its permissions.
    assert_eq!(
        function["LoggingConfig"]["LogGroup"],
        ref_to("EnforcerLogGroup")
    );
    assert_eq!(
        resource(&doc, "EnforcerFunction")["DependsOn"],
        "EnforcerRolePolicy"
    );

    let invoke = properties(&doc, "EnforcerInvokeConfig");
    assert_eq!(invoke["FunctionName"], ref_to("EnforcerFunction"));
    assert_eq!(invoke["MaximumRetryAttempts"], 2);
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"]["Destination"],
        get_att("DeadLetterQueue.Arn")
    );
}

#[test]
fn the_timeout_covers_the_wait_and_is_capped() {
    for (wait, timeout) in [(1, 61), (100, 160), (780, 840)] {
        let mut policy = default_policy();
        policy.enforcement.wait_for_ready_seconds = wait;
        let doc = rendered(&policy);
        assert_eq!(properties(&doc, "EnforcerFunction")["Timeout"], timeout);
    }
    let mut policy = default_policy();
    policy.enforcement.wait_for_ready_seconds = 5000;
    assert_eq!(
        properties(&rendered(&policy), "EnforcerFunction")["Timeout"],
        900
    );
}

#[test]
fn the_role_has_only_inline_least_privilege_permissions() {
    let doc = rendered(&default_policy());
    // The one managed policy is the guardrail policy for the roles that create sessions: the
    // stack attaches it to nothing (deploy attaches it to the policy's roles).
    let managed = of_type(&doc, "AWS::IAM::ManagedPolicy");
    assert_eq!(managed.len(), 1);
    assert_eq!(managed[0].0, "GuardrailPolicy");
    for key in ["Roles", "Users", "Groups"] {
        assert!(managed[0].1["Properties"].get(key).is_none(), "{key}");
    }
    assert!(of_type(&doc, "AWS::IAM::Policy").is_empty());
    let roles = of_type(&doc, "AWS::IAM::Role");
    assert_eq!(roles.len(), 1);
    let role = &roles[0].1["Properties"];
    assert!(role.get("ManagedPolicyArns").is_none());
    assert!(role.get("Policies").is_none());
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    let inline = of_type(&doc, "AWS::IAM::RolePolicy");
    assert_eq!(inline.len(), 1);
    assert_eq!(
        inline[0].1["Properties"]["RoleName"],
        ref_to("EnforcerRole")
    );
    let document = &inline[0].1["Properties"]["PolicyDocument"];

    let glue = with_sid(document, "GlueSessionsOfThisAccountAndRegion");
    assert_eq!(
        one_or_many(&glue["Action"]),
        ["glue:GetSession", "glue:GetTags", "glue:StopSession"].map(Value::from),
        "exactly the session calls the enforcer makes (no TagResource: it tags nothing; no \
         DeleteSession with action `stop`)"
    );
    // What the mode and action use, nothing more: audit stops nothing, `delete` deletes.
    let actions_in = |mode: policy::Mode, action: policy::EnforcementAction| {
        let mut policy = default_policy();
        policy.enforcement.mode = mode;
        policy.enforcement.action = action;
        let doc = rendered(&policy);
        let document = &properties(&doc, "EnforcerRolePolicy")["PolicyDocument"];
        one_or_many(&with_sid(document, "GlueSessionsOfThisAccountAndRegion")["Action"])
    };
    assert_eq!(
        actions_in(policy::Mode::Audit, policy::EnforcementAction::Delete),
        ["glue:GetSession", "glue:GetTags"].map(Value::from)
    );
    assert_eq!(
        actions_in(policy::Mode::Enforce, policy::EnforcementAction::Delete),
        [
            "glue:GetSession",
            "glue:GetTags",
            "glue:StopSession",
            "glue:DeleteSession"
        ]
        .map(Value::from)
    );
    assert_eq!(
        glue["Resource"],
        sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:session/*")
    );
    // Usage profiles are read (their defaults judge what a creator left out), only in the
    // stack's account and region.
    let profiles = with_sid(document, "ReadUsageProfilesOfThisAccountAndRegion");
    assert_eq!(profiles["Action"], "glue:GetUsageProfile");
    assert_eq!(
        profiles["Resource"],
        sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:usageProfile/*")
    );
    // ListSessions has no resource-level permissions: `*`, but only in the stack's region.
    let list = with_sid(document, "ListGlueSessionsInThisRegion");
    assert_eq!(list["Action"], "glue:ListSessions");
    assert_eq!(
        list["Condition"]["StringEquals"]["aws:RequestedRegion"],
        ref_to("AWS::Region")
    );
    for statement in statements(document) {
        assert_eq!(statement["Effect"], "Allow");
        let actions = one_or_many(&statement["Action"]);
        assert!(
            actions
                .iter()
                .all(|action| !action.as_str().unwrap().ends_with('*')),
            "no wildcard actions: {actions:?}"
        );
        if statement["Resource"] == "*" {
            let only = [
                "cloudtrail:LookupEvents",
                "glue:ListSessions",
                "glue:ListJobs",
            ]
            .map(Value::from);
            assert!(
                actions.len() == 1 && only.contains(&actions[0]),
                "{actions:?} on *"
            );
            assert_eq!(
                statement["Condition"]["StringEquals"]["aws:RequestedRegion"],
                ref_to("AWS::Region")
            );
        }
        if actions.contains(&"sns:Publish".into()) {
            assert_eq!(statement["Resource"], ref_to("NotificationTopic"));
        }
    }
    let sid_resource = |sid: &str| with_sid(document, sid)["Resource"].clone();
    assert_eq!(
        sid_resource("PublishNotifications"),
        ref_to("NotificationTopic")
    );
    assert_eq!(
        sid_resource("SendFailedInvocationsToTheDeadLetterQueue"),
        get_att("DeadLetterQueue.Arn")
    );
    // The key: which service may use it for the role, and for what, is the key policy's to say.
    assert_eq!(sid_resource("UseTheStackKey"), get_att("GuardKey.Arn"));
    // Outside a VPC, no EC2 permission at all.
    assert!(
        statements(document)
            .iter()
            .all(|statement| one_or_many(&statement["Action"])
                .iter()
                .all(|action| !action.as_str().unwrap().starts_with("ec2:"))),
        "EC2 permissions only with a network"
    );
    // The ledger: item reads and conditional writes on its own table, no Scan, Query or
    // table-level action.
    let ledger = with_sid(document, "ClaimAndRecordNotificationsInTheLedger");
    assert_eq!(
        one_or_many(&ledger["Action"]),
        [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ]
        .map(Value::from)
    );
    assert_eq!(ledger["Resource"], get_att("NotificationLedger.Arn"));
    assert_eq!(
        sid_resource("WriteOwnLogs"),
        get_att("EnforcerLogGroup.Arn")
    );
}

/// With `network`, the function runs in the policy's subnets with its security groups
/// (`VpcConfig`), and the role gets what Lambda needs to manage the function's network interfaces
/// there: AWSLambdaVPCAccessExecutionRole's EC2 actions, new interfaces only in those subnets
/// with those groups. checkov's VPC check then passes instead of being skipped.
#[test]
fn a_network_puts_the_function_in_its_subnets_with_scoped_interface_permissions() {
    let policy = case("network");
    let network = policy.network.clone().expect("the case has a network");
    let doc = rendered(&policy);
    let function = properties(&doc, "EnforcerFunction");
    let listed =
        |ids: &[String]| -> Vec<Value> { ids.iter().map(|id| Value::from(id.as_str())).collect() };
    assert_eq!(
        one_or_many(&function["VpcConfig"]["SubnetIds"]),
        listed(&network.subnet_ids)
    );
    assert_eq!(
        one_or_many(&function["VpcConfig"]["SecurityGroupIds"]),
        listed(&network.security_group_ids)
    );
    assert_eq!(function["KmsKeyArn"], get_att("GuardKey.Arn"));
    assert_eq!(
        skipped_ids(&doc, "EnforcerFunction"),
        ["CKV_AWS_116", "CKV_AWS_45", "CKV_AWS_115"]
    );

    let document = &properties(&doc, "EnforcerRolePolicy")["PolicyDocument"];
    let interfaces =
        sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:network-interface/*");
    // `!Split [",", !Sub [ARNs, {Ec2: prefix, Subnet1: id, …, Group1: id, …}]]`: each id is
    // data in the variable map, the ARN prefix is written once.
    let create = with_sid(document, "CreateNetworkInterfacesInThePolicysSubnets");
    assert_eq!(create["Action"], "ec2:CreateNetworkInterface");
    let mut arns = vec!["${Ec2}network-interface/*".to_string()];
    let mut variables = Mapping::new();
    variables.insert(
        "Ec2".into(),
        sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:"),
    );
    for (i, id) in network.subnet_ids.iter().enumerate() {
        arns.push(format!("${{Ec2}}subnet/${{Subnet{}}}", i + 1));
        variables.insert(format!("Subnet{}", i + 1).into(), id.as_str().into());
    }
    for (i, id) in network.security_group_ids.iter().enumerate() {
        arns.push(format!("${{Ec2}}security-group/${{Group{}}}", i + 1));
        variables.insert(format!("Group{}", i + 1).into(), id.as_str().into());
    }
    let expected = intrinsic(
        "Split",
        Value::Sequence(vec![
            ",".into(),
            intrinsic(
                "Sub",
                Value::Sequence(vec![arns.join(",").into(), Value::Mapping(variables)]),
            ),
        ]),
    );
    assert_eq!(create["Resource"], expected);
    let manage = with_sid(document, "ManageNetworkInterfacesOfThisAccountAndRegion");
    assert_eq!(
        one_or_many(&manage["Action"]),
        [
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses"
        ]
        .map(Value::from)
    );
    assert_eq!(manage["Resource"], interfaces);
    // Describe calls take no resource: `*`, but only in the stack's region.
    let describe = with_sid(document, "DescribeNetworkInterfacesAndSubnetsInThisRegion");
    assert_eq!(
        one_or_many(&describe["Action"]),
        ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"].map(Value::from)
    );
    assert_eq!(describe["Resource"], "*");
    assert_eq!(
        describe["Condition"]["StringEquals"]["aws:RequestedRegion"],
        ref_to("AWS::Region")
    );
    // Exactly the EC2 actions of AWSLambdaVPCAccessExecutionRole (its logs actions are covered
    // by WriteOwnLogs, for the one log group).
    let ec2: BTreeSet<String> = statements(document)
        .iter()
        .flat_map(|statement| one_or_many(&statement["Action"]))
        .filter_map(|action| action.as_str().map(str::to_string))
        .filter(|action| action.starts_with("ec2:"))
        .collect();
    let managed: BTreeSet<String> = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ]
    .map(String::from)
    .into();
    assert_eq!(ec2, managed);

    // Without the network, the same stack minus exactly these.
    let mut without = policy.clone();
    without.network = None;
    let plain = rendered(&without);
    assert_eq!(logical_ids(&doc), logical_ids(&plain));
    assert!(
        properties(&plain, "EnforcerFunction")
            .get("VpcConfig")
            .is_none()
    );
    assert_eq!(
        skipped_ids(&plain, "EnforcerFunction"),
        ["CKV_AWS_116", "CKV_AWS_45", "CKV_AWS_117", "CKV_AWS_115"]
    );
    let sids = |doc: &Value| -> Vec<String> {
        statements(&properties(doc, "EnforcerRolePolicy")["PolicyDocument"])
            .iter()
            .map(|statement| statement["Sid"].as_str().unwrap().to_string())
            .collect()
    };
    let mut extra = sids(&doc);
    extra.retain(|sid| !sids(&plain).contains(sid));
    assert_eq!(
        extra,
        [
            "CreateNetworkInterfacesInThePolicysSubnets",
            "ManageNetworkInterfacesOfThisAccountAndRegion",
            "DescribeNetworkInterfacesAndSubnetsInThisRegion"
        ]
    );
}

/// The checks the stack fails by design are skipped where checkov reports them, each with its
/// reason, and the README's table of resources gives the same decisions; no other resource
/// skips anything.
#[test]
fn checks_failed_on_purpose_are_skipped_with_their_reason_here_and_in_the_readme() {
    let readme = std::fs::read_to_string(paths::root().join("docs/stack.md")).unwrap();
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let mut function = vec!["CKV_AWS_116", "CKV_AWS_45"];
        if policy.network.is_none() {
            function.push("CKV_AWS_117");
        }
        if policy.stack.reserved_concurrency.is_none() {
            function.push("CKV_AWS_115");
        }
        assert_eq!(
            skipped_ids(&doc, "EnforcerFunction"),
            function,
            "{}",
            file.display()
        );
        assert_eq!(
            skipped_ids(&doc, "NotificationLedger"),
            ["CKV_AWS_119", "CKV_AWS_28"]
        );
        for (id, body) in resources(&doc) {
            let id = id.as_str().unwrap();
            if !["EnforcerFunction", "NotificationLedger"].contains(&id) {
                assert!(body.get("Metadata").is_none(), "{id} skips nothing");
                continue;
            }
            for (check, reason) in checkov_skips(&doc, id) {
                assert!(reason.len() > 60, "{id} {check}: give the reason: {reason}");
                let row = readme
                    .lines()
                    .find(|line| line.starts_with(&format!("| `{id}`")))
                    .unwrap_or_else(|| panic!("docs/stack.md's table has no row for {id}"));
                assert!(
                    row.contains(&format!("**{check}**")),
                    "docs/stack.md's row for {id} says why {check} is skipped"
                );
            }
        }
    }
}

/// What a platform team runs before approving a stack: every case, with and without a network,
/// renders to a template that the pinned cfn-lint and checkov (offline) pass.
#[test]
fn every_case_passes_cfn_lint_and_checkov() {
    let scratch = Scratch::new("lint");
    let mut templates = Vec::new();
    for file in case_files() {
        let out = scratch
            .0
            .join(file.file_name().expect("a case file"))
            .with_extension("yaml");
        std::fs::write(&out, render(&load(&file))).unwrap();
        templates.push(out);
    }
    assert!(matches!(
        crate::tools::lint_templates(&templates).unwrap(),
        Exit::Success
    ));
}

/// And lint fails when checkov does: the default stack without its environment key fails
/// CKV_AWS_173.
#[test]
fn lint_fails_on_a_failed_checkov_check() {
    let scratch = Scratch::new("lint-fails");
    let template = render(&default_policy());
    let line = "      KmsKeyArn: !GetAtt GuardKey.Arn\n";
    assert!(template.contains(line));
    let out = scratch.0.join("no-kms.yaml");
    std::fs::write(&out, template.replace(line, "")).unwrap();
    assert!(matches!(
        crate::tools::lint_templates(&[out]).unwrap(),
        Exit::Failed
    ));
}

/// The ledger that makes "one notification per session" hold: keyed as the Lambda writes it
/// (`session`, a string), on demand, items expiring on `expires_at`, encrypted with KMS, and
/// deleted with the stack (it holds nothing worth keeping once the guard is gone).
#[test]
fn the_notification_ledger_is_keyed_expiring_and_encrypted() {
    let doc = rendered(&default_policy());
    let tables = of_type(&doc, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1);
    let (id, table) = &tables[0];
    assert_eq!(*id, "NotificationLedger");
    assert_eq!(table["DeletionPolicy"], "Delete");
    assert_eq!(table["UpdateReplacePolicy"], "Delete");
    let properties = &table["Properties"];
    assert_eq!(properties["TableName"], sub("${GuardName}-ledger"));
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        properties["KeySchema"],
        yaml("[{AttributeName: session, KeyType: HASH}]")
    );
    assert_eq!(
        properties["AttributeDefinitions"],
        yaml("[{AttributeName: session, AttributeType: S}]")
    );
    assert_eq!(
        properties["TimeToLiveSpecification"],
        yaml("{AttributeName: expires_at, Enabled: true}")
    );
    assert_eq!(
        properties["SSESpecification"],
        yaml("{SSEEnabled: true, SSEType: KMS}")
    );
}

#[test]
fn policy_documents_use_the_partition_pseudo_parameter() {
    let doc = rendered(&default_policy());
    for (id, body) in resources(&doc) {
        if body["Type"] == "AWS::Lambda::Function" {
            continue; // Its environment holds the policy's own principal patterns.
        }
        let mut strings = Vec::new();
        strings_in(body, &mut strings);
        for text in strings {
            assert!(!text.contains("arn:aws:"), "{id:?}: {text}");
        }
    }
}

#[test]
fn the_create_session_rule_matches_only_successful_calls_and_has_retries_and_a_dlq() {
    let doc = rendered(&default_policy());
    let rule = properties(&doc, "CreateSessionRule");
    let pattern = &rule["EventPattern"];
    assert_eq!(
        one_or_many(&pattern["source"]),
        vec![Value::from("aws.glue")]
    );
    assert_eq!(
        one_or_many(&pattern["detail-type"]),
        vec![Value::from("AWS API Call via CloudTrail")]
    );
    assert_eq!(
        one_or_many(&pattern["detail"]["eventSource"]),
        vec![Value::from("glue.amazonaws.com")]
    );
    assert_eq!(
        one_or_many(&pattern["detail"]["eventName"]),
        vec![Value::from("CreateSession")]
    );
    let no_error: Value = serde_yaml::from_str("[{exists: false}]").unwrap();
    assert_eq!(pattern["detail"]["errorCode"], no_error);
    assert_eq!(rule["State"], "ENABLED");
}

/// With a `jobs` section, the job rule takes exactly the successful StartJobRun, CreateJob and
/// UpdateJob calls, and the role exactly the calls the enforcer makes on jobs (BatchStopJobRun
/// only to enforce); without one, neither exists.
#[test]
fn the_job_rule_and_the_job_permissions_exist_only_with_a_jobs_section() {
    let job_statement = |policy: &policy::Policy| -> Option<Value> {
        let doc = rendered(policy);
        statements(&properties(&doc, "EnforcerRolePolicy")["PolicyDocument"])
            .iter()
            .find(|statement| statement["Sid"] == "GlueJobsOfThisAccountAndRegion")
            .cloned()
    };
    let doc = rendered(&default_policy());
    let pattern = &properties(&doc, "JobRule")["EventPattern"];
    assert_eq!(
        one_or_many(&pattern["detail"]["eventName"]),
        yaml("[StartJobRun, CreateJob, UpdateJob]")
            .as_sequence()
            .unwrap()
            .clone()
    );
    assert_eq!(pattern["detail"]["errorCode"], yaml("[{exists: false}]"));
    assert_eq!(
        one_or_many(&pattern["source"]),
        vec![Value::from("aws.glue")]
    );

    let enforce = job_statement(&default_policy()).expect("the job statement");
    assert_eq!(
        enforce["Action"],
        yaml("[glue:GetJob, glue:GetJobRun, glue:GetJobRuns, glue:GetTags, glue:BatchStopJobRun]")
    );
    assert_eq!(
        enforce["Resource"],
        sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/*")
    );
    let mut audit = default_policy();
    audit.enforcement.mode = policy::Mode::Audit;
    assert_eq!(
        job_statement(&audit).expect("the job statement")["Action"],
        yaml("[glue:GetJob, glue:GetJobRun, glue:GetJobRuns, glue:GetTags]"),
        "audit never stops a run"
    );

    let sessions_only = policy::Policy {
        jobs: None,
        ..default_policy()
    };
    let list_jobs = |policy: &policy::Policy| {
        let doc = rendered(policy);
        statements(&properties(&doc, "EnforcerRolePolicy")["PolicyDocument"])
            .iter()
            .find(|statement| statement["Sid"] == "ListGlueJobsInThisRegion")
            .cloned()
    };
    let listing = list_jobs(&default_policy()).expect("the sweep lists jobs");
    assert_eq!(listing["Action"], "glue:ListJobs");
    assert_eq!(
        listing["Condition"]["StringEquals"]["aws:RequestedRegion"],
        ref_to("AWS::Region")
    );
    assert_eq!(job_statement(&sessions_only), None);
    assert_eq!(list_jobs(&sessions_only), None);
    let ids = logical_ids(&rendered(&sessions_only));
    assert!(ids.iter().all(|id| !id.starts_with("JobRule")), "{ids:?}");
}

#[test]
fn every_rule_target_retries_has_a_dlq_and_a_scoped_permission() {
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let rules = of_type(&doc, "AWS::Events::Rule");
        let ids: Vec<&str> = rules.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, rule_ids(&policy), "{}", file.display());
        let permissions = of_type(&doc, "AWS::Lambda::Permission");
        assert_eq!(permissions.len(), rules.len());
        for (id, body) in &rules {
            let targets = one_or_many(&body["Properties"]["Targets"]);
            assert_eq!(targets.len(), 1);
            assert_eq!(targets[0]["Arn"], get_att("EnforcerFunction.Arn"));
            assert!(
                targets[0]["RetryPolicy"]["MaximumRetryAttempts"]
                    .as_u64()
                    .unwrap()
                    > 0
            );
            assert_eq!(
                targets[0]["DeadLetterConfig"]["Arn"],
                get_att("DeadLetterQueue.Arn")
            );
            let rule_arn = get_att(&format!("{id}.Arn"));
            let scoped = permissions
                .iter()
                .filter(|(_, permission)| permission["Properties"]["SourceArn"] == rule_arn)
                .count();
            assert_eq!(scoped, 1, "{id}: one permission scoped by SourceArn");
        }
        for (_, permission) in &permissions {
            let properties = &permission["Properties"];
            assert_eq!(properties["Principal"], "events.amazonaws.com");
            assert_eq!(properties["Action"], "lambda:InvokeFunction");
            assert_eq!(properties["FunctionName"], get_att("EnforcerFunction.Arn"));
        }
    }
}

#[test]
fn the_sweep_rule_follows_every_minutes_and_is_absent_when_zero() {
    let sweep = |minutes: u32| {
        let mut policy = default_policy();
        policy.sweep.every_minutes = minutes;
        rendered(&policy)
    };
    assert_eq!(
        properties(&sweep(10), "SweepRule")["ScheduleExpression"],
        "rate(10 minutes)"
    );
    assert_eq!(
        properties(&sweep(1), "SweepRule")["ScheduleExpression"],
        "rate(1 minute)"
    );
    assert_eq!(
        properties(&sweep(1440), "SweepRule")["ScheduleExpression"],
        "rate(1440 minutes)"
    );
    let off = rendered(&case("sweep-off"));
    let template = render(&case("sweep-off"));
    assert!(
        !template.contains("Sweep"),
        "no sweep resource, alarm or output when off"
    );
    assert!(off["Outputs"].get("SweepRuleArn").is_none());
    assert!(of_type(&off, "AWS::Events::Rule").len() == 1);
}

#[test]
fn the_dead_letter_queue_is_encrypted_kept_14_days_writable_by_its_senders_and_tls_only() {
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let queue = properties(&doc, "DeadLetterQueue");
        assert_eq!(queue["KmsMasterKeyId"], get_att("GuardKey.Arn"));
        assert_eq!(queue["MessageRetentionPeriod"], 14 * 24 * 3600);
        let queue_policy = properties(&doc, "DeadLetterQueuePolicy");
        assert_eq!(
            one_or_many(&queue_policy["Queues"]),
            vec![ref_to("DeadLetterQueue")]
        );
        let document = &queue_policy["PolicyDocument"];

        let events = with_sid(document, "EventBridgeRulesSendUndeliveredEvents");
        assert_eq!(events["Effect"], "Allow");
        assert_eq!(events["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(events["Action"], "sqs:SendMessage");
        assert_eq!(events["Resource"], get_att("DeadLetterQueue.Arn"));
        let sources = one_or_many(&events["Condition"]["ArnEquals"]["aws:SourceArn"]);
        let expected: Vec<Value> = rule_ids(&policy)
            .iter()
            .map(|id| get_att(&format!("{id}.Arn")))
            .collect();
        assert_eq!(sources, expected, "{}", file.display());

        let lambda = with_sid(document, "EnforcerSendsFailedInvocations");
        assert_eq!(
            lambda["Principal"]["AWS"],
            sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
        );
        assert_eq!(
            lambda["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            get_att("EnforcerRole.Arn")
        );
        assert_eq!(lambda["Action"], "sqs:SendMessage");

        let tls = with_sid(document, "DenyInsecureTransport");
        assert_eq!(tls["Effect"], "Deny");
        assert_eq!(tls["Principal"], "*");
        assert_eq!(tls["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }
}

#[test]
fn each_team_budget_has_an_alarm_at_its_warning_share_and_a_dashboard_widget() {
    let policy = default_policy();
    assert!(
        !policy.budgets.is_empty(),
        "the default policy shows a budget"
    );
    let doc = rendered(&policy);
    let budget = &policy.budgets[0];
    let alarm = properties(&doc, "BudgetMlTrainingAlarm");
    assert_eq!(alarm["Namespace"], "GlueSessionGuard");
    assert_eq!(alarm["MetricName"], "BudgetDpuInUse");
    assert_eq!(alarm["Dimensions"][0]["Value"], ref_to("GuardName"));
    assert_eq!(alarm["Dimensions"][1]["Value"], budget.name.as_str());
    assert_eq!(
        alarm["Threshold"].as_f64(),
        Some(budget.max_concurrent_dpu * f64::from(budget.warn_at_percent()) / 100.0)
    );
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    let dashboard = properties(&doc, "Dashboard");
    let body = dashboard["DashboardBody"]["Sub"]
        .as_str()
        .or_else(|| match &dashboard["DashboardBody"] {
            Value::Tagged(tagged) => tagged.value.as_str(),
            _ => None,
        })
        .expect("a !Sub string");
    let body: serde_json::Value = serde_json::from_str(body).expect("the body is JSON");
    let titles: Vec<&str> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    // The enforcer emits what the dashboard and the alarm show, under the same names.
    for widget in body["widgets"].as_array().unwrap() {
        for metric in widget["properties"]["metrics"].as_array().unwrap() {
            if metric[0] == "GlueSessionGuard" {
                let name = metric[1].as_str().unwrap();
                assert!(emitted_by_the_enforcer(name), "{name} is not emitted");
            }
        }
    }
    assert!(emitted_by_the_enforcer("BudgetDpuInUse"));
    assert!(emitted_by_the_enforcer("Violations"));
    assert_eq!(
        titles,
        [
            "Budget ml-training: DPUs in use",
            "Inspected and stopped",
            "Violations by rule",
            "Notifications sent",
            "Enforcer errors and throttles",
            "Dead-letter queue depth",
        ]
    );
    // Without budgets, no budget alarm and no budget widget; the dashboard stays.
    let without = policy::Policy {
        budgets: Vec::new(),
        ..default_policy()
    };
    let doc = rendered(&without);
    assert!(!logical_ids(&doc).iter().any(|id| id.starts_with("Budget")));
    assert!(logical_ids(&doc).contains("Dashboard"));
}

/// Whether the enforcer's EMF lines (`lambda/src/metrics.rs`) name the metric `name`.
fn emitted_by_the_enforcer(name: &str) -> bool {
    const SOURCE: &str = include_str!("../../../lambda/src/metrics.rs");
    SOURCE.contains(&format!("\"{name}\""))
}

#[test]
fn every_alarm_notifies_the_alarm_topic_and_each_failure_has_one() {
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let alarms = of_type(&doc, "AWS::CloudWatch::Alarm");
        let mut watched = BTreeSet::new();
        for (id, alarm) in &alarms {
            let properties = &alarm["Properties"];
            assert_eq!(
                one_or_many(&properties["AlarmActions"]),
                vec![ref_to("AlarmTopic")],
                "{id}"
            );
            // A team budget's alarm watches its use, not a failure (the test below).
            if properties["MetricName"] == "BudgetDpuInUse" {
                continue;
            }
            assert_eq!(properties["Threshold"], 0);
            assert_eq!(properties["ComparisonOperator"], "GreaterThanThreshold");
            let dimension = &properties["Dimensions"][0];
            watched.insert((
                properties["Namespace"].as_str().unwrap().to_string(),
                properties["MetricName"].as_str().unwrap().to_string(),
                format!("{:?}", dimension["Value"]),
            ));
        }
        let mut expected = BTreeSet::from([
            (
                "AWS/SQS".to_string(),
                "ApproximateNumberOfMessagesVisible".to_string(),
                format!("{:?}", get_att("DeadLetterQueue.QueueName")),
            ),
            (
                "AWS/Lambda".to_string(),
                "Errors".to_string(),
                format!("{:?}", ref_to("EnforcerFunction")),
            ),
            (
                "AWS/Lambda".to_string(),
                "Throttles".to_string(),
                format!("{:?}", ref_to("EnforcerFunction")),
            ),
        ]);
        for rule in rule_ids(&policy) {
            expected.insert((
                "AWS/Events".to_string(),
                "FailedInvocations".to_string(),
                format!("{:?}", ref_to(rule)),
            ));
        }
        assert_eq!(watched, expected, "{}", file.display());
    }
}

#[test]
fn outputs_name_the_function_topics_queue_and_rules() {
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let outputs = &doc["Outputs"];
        assert_eq!(
            outputs["FunctionArn"]["Value"],
            get_att("EnforcerFunction.Arn")
        );
        assert_eq!(
            outputs["NotificationTopicArn"]["Value"],
            ref_to("NotificationTopic")
        );
        assert_eq!(outputs["AlarmTopicArn"]["Value"], ref_to("AlarmTopic"));
        assert_eq!(
            outputs["DeadLetterQueueUrl"]["Value"],
            ref_to("DeadLetterQueue")
        );
        assert_eq!(
            outputs["LedgerTableName"]["Value"],
            ref_to("NotificationLedger")
        );
        for rule in rule_ids(&policy) {
            assert_eq!(
                outputs[format!("{rule}Arn").as_str()]["Value"],
                get_att(&format!("{rule}.Arn"))
            );
        }
    }
}

/// Deploy passes `stack_tags` as stack-level tags, which CloudFormation propagates to every
/// resource that supports them; the template only lists them in its metadata.
#[test]
fn stack_tags_are_in_the_metadata_and_on_no_resource() {
    let mut cases_with_tags = 0;
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let tags = stack_tags(&policy);
        let metadata = doc["Metadata"]["GlueSessionGuard"]["StackTags"]
            .as_mapping()
            .expect("StackTags is a mapping");
        let listed: Vec<(String, String)> = metadata
            .iter()
            .map(|(key, value)| {
                (
                    key.as_str().unwrap().to_string(),
                    value.as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(listed, tags, "{}", file.display());
        if !tags.is_empty() {
            cases_with_tags += 1;
        }
        assert_eq!(
            tagged_resources(&doc),
            Vec::<&str>::new(),
            "{}",
            file.display()
        );
    }
    assert!(cases_with_tags >= 2);
}

#[test]
fn audit_mode_without_notifications_still_alarms_and_has_unsubscribed_topics() {
    let policy = case("audit-no-notifications");
    let doc = rendered(&policy);
    assert!(
        properties(&doc, "NotificationTopic")
            .get("Subscription")
            .is_none()
    );
    assert!(properties(&doc, "AlarmTopic").get("Subscription").is_none());
    assert_eq!(doc["Metadata"]["GlueSessionGuard"]["Mode"], "audit");
    assert_eq!(of_type(&doc, "AWS::CloudWatch::Alarm").len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Committed renders, --check and --write-all, atomic writes

#[test]
fn check_and_write_all_keep_committed_renders_in_step_with_the_policies() {
    let scratch = Scratch::new("check");
    let policies = scratch.0.join("policies");
    let rendered_dir = policies.join("rendered");
    std::fs::create_dir_all(&policies).unwrap();
    let mut files = Vec::new();
    for name in ["default", "sweep-off"] {
        let source = if name == "default" {
            paths::policies_dir().join("default.yaml")
        } else {
            cases_dir().join(format!("{name}.yaml"))
        };
        let file = policies.join(format!("{name}.yaml"));
        std::fs::copy(source, &file).unwrap();
        files.push(file);
    }
    assert!(matches!(
        check_all(&files, &rendered_dir).unwrap(),
        Exit::Failed
    ));

    std::fs::create_dir_all(&rendered_dir).unwrap();
    std::fs::write(rendered_dir.join("gone.yaml"), "orphan").unwrap();
    assert!(matches!(
        write_all(&files, &rendered_dir).unwrap(),
        Exit::Success
    ));
    assert_eq!(files_in(&rendered_dir), ["default.yaml", "sweep-off.yaml"]);
    assert_eq!(
        std::fs::read_to_string(rendered_dir.join("sweep-off.yaml")).unwrap(),
        render(&case("sweep-off"))
    );
    assert!(matches!(
        check_all(&files, &rendered_dir).unwrap(),
        Exit::Success
    ));

    // A changed policy makes its render stale.
    let text = std::fs::read_to_string(&files[1]).unwrap();
    std::fs::write(&files[1], text.replace("max_dpu: 40", "max_dpu: 41")).unwrap();
    assert!(matches!(
        check_all(&files, &rendered_dir).unwrap(),
        Exit::Failed
    ));
    assert!(matches!(
        write_all(&files, &rendered_dir).unwrap(),
        Exit::Success
    ));
    assert!(matches!(
        check_all(&files, &rendered_dir).unwrap(),
        Exit::Success
    ));

    // A render whose policy is gone fails the check.
    std::fs::write(rendered_dir.join("gone.yaml"), "orphan").unwrap();
    assert!(matches!(
        check_all(&files, &rendered_dir).unwrap(),
        Exit::Failed
    ));
    std::fs::remove_file(rendered_dir.join("gone.yaml")).unwrap();

    // An invalid policy fails both, and --write-all then writes nothing at all.
    let before = std::fs::read_to_string(rendered_dir.join("default.yaml")).unwrap();
    std::fs::write(
        &files[1],
        "version: 1\nstack: {name: 9bad}\nboundaries: {max_workers: 1}\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(
        &files[0],
        text.replace("max_workers: 10", "max_workers: 11"),
    )
    .unwrap();
    assert!(matches!(
        check_all(&files, &rendered_dir).unwrap(),
        Exit::Failed
    ));
    assert!(matches!(
        write_all(&files, &rendered_dir).unwrap(),
        Exit::Failed
    ));
    assert_eq!(
        std::fs::read_to_string(rendered_dir.join("default.yaml")).unwrap(),
        before
    );
}

#[test]
fn every_policy_in_policies_has_a_fresh_committed_render() {
    let policies = paths::default_policies().unwrap();
    assert!(!policies.is_empty());
    assert!(matches!(
        check_all(&policies, &crate::paths::rendered_dir()).unwrap(),
        Exit::Success
    ));
}

#[test]
fn write_atomically_replaces_whole_files_and_leaves_nothing_behind() {
    let scratch = Scratch::new("atomic");
    let out = scratch.0.join("stack.yaml");
    write_atomically(&out, "first\n").unwrap();
    write_atomically(&out, "second\n").unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "second\n");
    assert_eq!(files_in(&scratch.0), ["stack.yaml"]);

    let missing_dir = scratch.0.join("no-such-dir").join("stack.yaml");
    assert!(write_atomically(&missing_dir, "x").is_err());
    assert!(!missing_dir.exists());
    let error = write_atomically(&scratch.0, "x").unwrap_err();
    assert!(format!("{error:#}").contains("writing"), "{error:#}");
    assert_eq!(files_in(&scratch.0), ["stack.yaml"]);
}

#[test]
fn stack_tags_are_the_policy_tags_sorted() {
    let policy = case("overrides");
    assert_eq!(
        stack_tags(&policy),
        [
            ("cost-center", "0042"),
            ("environment", "prod"),
            ("owner", "platform@example.com")
        ]
        .map(|(key, value)| (key.to_string(), value.to_string()))
    );
    assert!(stack_tags(&case("audit-no-notifications")).is_empty());
}

// ---------------------------------------------------------------------------------------------
// The readable policy in Metadata

#[test]
fn the_metadata_holds_the_runtime_policy_one_field_a_line() {
    let policy = default_policy();
    let doc = parse(&render_stack(&policy).unwrap());
    let shown = &doc["Metadata"]["GlueSessionGuard"]["Policy"];
    let runtime: Value = serde_yaml::from_str(&policy::runtime_policy_json(&policy)).unwrap();
    assert_eq!(
        shown, &runtime,
        "the readable copy reads back as what the function reads"
    );
}

#[test]
fn a_one_number_change_is_one_readable_line_of_the_diff() {
    let before = default_policy();
    let mut after = before.clone();
    after.boundaries.max_workers = Some(8);
    let (before, after) = (
        render_stack(&before).unwrap(),
        render_stack(&after).unwrap(),
    );
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(changed.len(), 4, "{changed:#?}");
    assert_eq!(
        changed[0],
        ("        max_workers: 10", "        max_workers: 8"),
        "the reviewer's line"
    );
    assert!(
        changed[1].0.trim_start().starts_with("GSG_POLICY:"),
        "the function's copy"
    );
    assert_eq!(
        changed[2],
        (
            r#"          numberOfWorkers: {"DefaultValue":"5","MaxValue":"10","MinValue":"1"}"#,
            r#"          numberOfWorkers: {"DefaultValue":"5","MaxValue":"8","MinValue":"1"}"#
        ),
        "the default usage profile's limit, on one line too"
    );
    assert_eq!(
        changed[3], changed[2],
        "and of the ml-training override's, which keeps the default max_workers"
    );
}

#[test]
fn a_policy_with_many_overrides_is_shown_whole() {
    let mut policy = default_policy();
    // Many overrides: compressed, the function's copy stays small; one line each, the readable
    // copy is far past TemplateBody's limit, and within TemplateURL's.
    let template_override = policy.overrides[0].clone();
    for i in 0..150 {
        let mut rule = template_override.clone();
        rule.name = format!("team-{i}");
        rule.principals = vec![format!(
            "arn:aws:iam::123456789012:role/{}{i}",
            "TeamRoleWithALongName".repeat(8)
        )];
        policy.overrides.push(rule);
    }
    let template = render_stack(&policy).unwrap();
    assert!(template.len() > policy::limits::CLOUDFORMATION_TEMPLATE_BODY_BYTES);
    let doc = parse(&template);
    assert_eq!(
        doc["Metadata"]["GlueSessionGuard"]["Policy"]["overrides"]
            .as_sequence()
            .map(Vec::len),
        Some(policy.overrides.len())
    );
}

#[test]
fn policy_keys_are_bare_only_when_yaml_reads_them_back_as_the_same_name() {
    let shown = |name: &str| key(minijinja::Value::from(name)).unwrap().to_string();
    assert_eq!(shown("max_workers"), "max_workers");
    assert_eq!(shown("X.3X"), "X.3X");
    assert_eq!(shown("yes"), "\"yes\"");
    assert_eq!(shown("a b: c"), "\"a b: c\"");
    assert_eq!(shown("3X"), "\"3X\"");
}

// ---------------------------------------------------------------------------------------------
// The preventive layer

fn policy_text(text: &str) -> policy::Policy {
    policy::load_policy("p.yaml", text.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"))
}

#[test]
fn usage_profiles_hold_the_default_boundaries_and_each_override() {
    let doc = rendered(&default_policy());
    let profiles = of_type(&doc, "AWS::Glue::UsageProfile");
    let names: Vec<&str> = profiles
        .iter()
        .map(|(_, body)| body["Properties"]["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "glue-session-guard-default",
            "glue-session-guard-override-platform-admins",
            "glue-session-guard-override-ml-training",
        ],
        "in the policy's order"
    );
    let session = |id: &str| properties(&doc, id)["Configuration"]["SessionConfiguration"].clone();
    let default = session("UsageProfileDefault");
    assert_eq!(default["numberOfWorkers"]["MaxValue"], "10");
    assert_eq!(default["numberOfWorkers"]["DefaultValue"], "5");
    assert_eq!(
        one_or_many(&default["workerType"]["AllowedValues"]),
        ["G.1X", "G.2X"].map(Value::from)
    );
    assert_eq!(default["timeout"]["MaxValue"], "480");
    assert_eq!(default["idleTimeout"]["MaxValue"], "120");
    let admins = session("UsageProfilePlatformAdmins");
    assert_eq!(admins["numberOfWorkers"]["MaxValue"], "60");
    assert_eq!(
        one_or_many(&admins["workerType"]["AllowedValues"]),
        ["G.1X", "G.2X", "G.4X", "G.8X"].map(Value::from)
    );
    // Inherited from the default boundaries.
    assert_eq!(admins["timeout"]["MaxValue"], "480");
    let ml = session("UsageProfileMlTraining");
    assert_eq!(ml["timeout"]["MaxValue"], "1440");
    assert_eq!(ml["idleTimeout"]["MaxValue"], "240");
    assert_eq!(ml["numberOfWorkers"]["MaxValue"], "10");
}

#[test]
fn the_guardrail_policy_denies_what_the_policy_requires_and_reads_the_profiles() {
    let doc = rendered(&default_policy());
    let document = &properties(&doc, "GuardrailPolicy")["PolicyDocument"];
    let vpc = with_sid(document, "DenyCreateSessionWithoutVpc");
    assert_eq!(vpc["Effect"], "Deny");
    assert_eq!(vpc["Action"], "glue:CreateSession");
    assert_eq!(vpc["Condition"]["Null"]["glue:VpcIds"], "true");
    let owner = with_sid(document, "DenyCreateSessionWithoutTagOwner");
    assert_eq!(owner["Condition"]["Null"]["aws:RequestTag/owner"], "true");
    let read = with_sid(document, "ReadTheStackUsageProfiles");
    assert_eq!(read["Effect"], "Allow");
    assert_eq!(read["Action"], "glue:GetUsageProfile");
    let resources = one_or_many(&read["Resource"]);
    assert_eq!(
        resources
            .iter()
            .map(|resource| resource["Fn::Sub"].clone())
            .collect::<Vec<_>>(),
        [
            "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:usageProfile/glue-session-guard-default",
            "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:usageProfile/glue-session-guard-override-*",
        ]
        .map(Value::from)
    );

    // No VPC rule: no VPC deny. Two required tags: one deny each.
    let doc = rendered(&policy_text(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 4, required_tags: [owner, cost-center]}\n",
    ));
    let document = &properties(&doc, "GuardrailPolicy")["PolicyDocument"];
    let sids: Vec<Value> = statements(document)
        .iter()
        .map(|statement| statement["Sid"].clone())
        .collect();
    assert_eq!(
        sids,
        [
            "DenyCreateSessionWithoutTagOwner",
            "DenyCreateSessionWithoutTagCostCenter",
            "ReadTheStackUsageProfiles"
        ]
        .map(Value::from)
    );
    // Only workers are limited: the one profile holds only them.
    let session = &properties(&doc, "UsageProfileDefault")["Configuration"]["SessionConfiguration"];
    assert_eq!(session.as_mapping().unwrap().len(), 1);
    assert_eq!(session["numberOfWorkers"]["MaxValue"], "4");
    assert_eq!(session["numberOfWorkers"]["DefaultValue"], "4");
}

// ---------------------------------------------------------------------------------------------
// Names from the guard's name, and org mode (one stack instance per account and Region)

/// The service limits on every name (and description) the template sets, by resource type and
/// property: CloudFormation's resource schemas (Glue allows 255 for a usage profile through its
/// own API, CloudFormation 128).
const NAME_LIMITS: &[(&str, &str, usize)] = &[
    ("AWS::Lambda::Function", "FunctionName", 64),
    ("AWS::Lambda::Function", "Description", 256),
    ("AWS::Logs::LogGroup", "LogGroupName", 512),
    ("AWS::DynamoDB::Table", "TableName", 255),
    ("AWS::CloudWatch::Alarm", "AlarmName", 255),
    ("AWS::CloudWatch::Alarm", "AlarmDescription", 1024),
    ("AWS::CloudWatch::Alarm", "MetricName", 255),
    ("AWS::CloudWatch::Dashboard", "DashboardName", 255),
    ("AWS::KMS::Alias", "AliasName", 256),
    ("AWS::KMS::Key", "Description", 8192),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName", 128),
    ("AWS::IAM::ManagedPolicy", "Description", 1000),
    ("AWS::IAM::Role", "RoleName", 64),
    ("AWS::IAM::Role", "Description", 1000),
    ("AWS::IAM::RolePolicy", "PolicyName", 128),
    (
        "AWS::Glue::UsageProfile",
        "Name",
        MAX_USAGE_PROFILE_NAME_CHARS,
    ),
    ("AWS::Events::Rule", "Name", 64),
    ("AWS::Events::Rule", "Description", 512),
    ("AWS::SNS::Topic", "TopicName", 256),
    ("AWS::SNS::Topic", "DisplayName", 100),
    ("AWS::SQS::Queue", "QueueName", 80),
];

/// A `!Sub` string (or a plain one) with `${GuardName}` resolved to `guard`; `None` for a
/// `!Ref`/`!GetAtt` (a name another resource has). Any other `${...}` left in it is an error:
/// names derive from the guard's name only.
fn resolved_name(value: &Value, guard: &str, at: &str) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Tagged(tagged) if tagged.tag == "Sub" => tagged
            .value
            .as_str()
            .unwrap_or_else(|| panic!("{at}: a one-string !Sub"))
            .replace("${GuardName}", guard)
            // Measured in the longest Region the stack can be deployed to.
            .replace("${AWS::Region}", policy::limits::longest_region()),
        Value::Tagged(tagged) if tagged.tag == "Ref" || tagged.tag == "GetAtt" => {
            assert_ne!(
                tagged.value, "AWS::StackName",
                "{at}: derive names from GuardName"
            );
            return None;
        }
        other => panic!("{at}: a name is a string, got {other:?}"),
    };
    assert!(
        !text.contains("${"),
        "{at}: `{text}` derives from something other than ${{GuardName}}"
    );
    Some(text)
}

/// Every name and description the template sets on a resource (a property ending in `Name` or
/// `Description`), resolved for `guard`, with its limit: (`<id>.<property>`, value, limit).
fn resource_names(doc: &Value, guard: &str) -> Vec<(String, String, usize)> {
    let mut names = Vec::new();
    for (id, body) in resources(doc) {
        let id = id.as_str().unwrap();
        let type_name = body["Type"].as_str().unwrap();
        let Some(properties) = body["Properties"].as_mapping() else {
            continue;
        };
        for (key, value) in properties {
            let key = key.as_str().unwrap();
            if !(key.ends_with("Name") || key.ends_with("Description")) {
                continue;
            }
            let at = format!("{id}.{key}");
            let Some(name) = resolved_name(value, guard, &at) else {
                continue;
            };
            let limit = NAME_LIMITS
                .iter()
                .find(|(t, property, _)| *t == type_name && *property == key)
                .map(|(_, _, limit)| *limit)
                .unwrap_or_else(|| panic!("{at} ({type_name}): add its limit to NAME_LIMITS"));
            names.push((at, name, limit));
        }
    }
    names
}

/// Where `AWS::StackName` appears in `doc` outside the text that may mention it (the template's
/// Metadata and Description, and parameter descriptions).
fn stack_name_uses(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (key, value) in doc.as_mapping().unwrap() {
        let key = key.as_str().unwrap();
        if key == "Metadata" || key == "Description" {
            continue;
        }
        let mut strings = Vec::new();
        if key == "Parameters" {
            for parameter in value.as_mapping().unwrap().values() {
                for (field, item) in parameter.as_mapping().unwrap() {
                    if field != "Description" {
                        strings_in(item, &mut strings);
                    }
                }
            }
        } else {
            strings_in(value, &mut strings);
        }
        found.extend(
            strings
                .into_iter()
                .filter(|text| text.contains("AWS::StackName"))
                .map(|text| format!("{key}: {text}")),
        );
    }
    found
}

/// A policy with the longest valid guard name (55 characters), a sweep (the longest alarm
/// name), and an override whose profile name is as long as CloudFormation allows; in org mode
/// when `organization` is given (a YAML block).
fn longest_names_policy(organization: &str) -> policy::Policy {
    let guard = format!("g{}", "x".repeat(MAX_STACK_NAME_CHARS - 1));
    let override_name = "o"
        .repeat(MAX_USAGE_PROFILE_NAME_CHARS - MAX_STACK_NAME_CHARS - OVERRIDE_PROFILE_INFIX.len());
    policy_text(&format!(
        "version: 1\nstack: {{name: {guard}}}\nsweep: {{every_minutes: 5}}\n\
         boundaries: {{max_workers: 4}}\n\
         overrides:\n  - name: {override_name}\n    principals: [\"arn:aws:iam::123456789012:role/R\"]\n    \
         boundaries: {{max_workers: 8}}\n{organization}"
    ))
}

const ORGANIZATION_YAML: &str = "organization:\n  id: o-a1b2c3d4e5\n  \
     organizational_units: [r-ab12]\n  regions: [us-east-1, eu-west-1]\n  \
     notifications_topic_arn: arn:aws:sns:eu-west-1:111122223333:central\n";

/// StackSets names a stack instance `StackSet-<set>-<uuid>`: every name comes from the GuardName
/// parameter (the policy's stack.name, which it cannot drift from), and with the longest valid
/// guard name each one is within its service's limit. A `${AWS::StackName}` in a name fails here.
#[test]
fn every_name_derives_from_the_guard_name_and_fits_its_limit_at_the_longest_name() {
    for organization in ["", ORGANIZATION_YAML] {
        let policy = longest_names_policy(organization);
        let guard = policy.stack.name.clone();
        assert_eq!(guard.chars().count(), 55);
        let doc = rendered(&policy);

        let parameter = &doc["Parameters"]["GuardName"];
        assert_eq!(parameter["Type"], "String");
        assert_eq!(parameter["Default"], guard.as_str());
        assert_eq!(
            one_or_many(&parameter["AllowedValues"]),
            vec![Value::from(guard.as_str())],
            "the policy fixes the name: a stack cannot be given another"
        );
        assert!(
            parameter["Description"]
                .as_str()
                .is_some_and(|text| text.contains("StackSet-")),
            "the parameter says why it exists"
        );
        assert_eq!(
            stack_name_uses(&doc),
            Vec::<String>::new(),
            "names derive from GuardName"
        );

        let names = resource_names(&doc, &guard);
        for (at, name, limit) in &names {
            assert!(
                name.chars().count() <= *limit,
                "{at}: `{name}` has {} characters, more than {limit}",
                name.chars().count()
            );
        }
        let name_of = |at: &str| {
            names
                .iter()
                .find(|(found, _, _)| found == at)
                .map(|(_, name, _)| name.clone())
                .unwrap_or_else(|| panic!("no {at}"))
        };
        let function = name_of("EnforcerFunction.FunctionName");
        assert_eq!(function, format!("{guard}-enforcer"));
        assert_eq!(function.len(), 64, "exactly Lambda's limit");
        assert_eq!(
            name_of("EnforcerLogGroup.LogGroupName"),
            format!("/aws/lambda/{guard}-enforcer")
        );
        assert_eq!(
            name_of("NotificationLedger.TableName"),
            format!("{guard}-ledger")
        );
        assert_eq!(name_of("GuardKeyAlias.AliasName"), format!("alias/{guard}"));
        assert_eq!(
            name_of("GuardrailPolicy.ManagedPolicyName"),
            guardrail_policy_name(&guard, policy::limits::longest_region())
        );
        assert_eq!(
            name_of("SweepRuleFailedInvocationsAlarm.AlarmName"),
            format!("{guard}-sweep-rule-failed-invocations")
        );
        let longest_profile = of_type(&doc, "AWS::Glue::UsageProfile")
            .iter()
            .map(|(_, body)| body["Properties"]["Name"].as_str().unwrap().chars().count())
            .max();
        assert_eq!(longest_profile, Some(MAX_USAGE_PROFILE_NAME_CHARS));
        // What the template could name but leaves to CloudFormation: its one role.
        assert_eq!(of_type(&doc, "AWS::IAM::Role").len(), 1);
        assert!(properties(&doc, "EnforcerRole").get("RoleName").is_none());

        // The key policy names the function and its log group as they are named.
        let with_guard = |value: &Value| match value {
            Value::Tagged(tagged) if tagged.tag == "Sub" => tagged
                .value
                .as_str()
                .unwrap()
                .replace("${GuardName}", &guard),
            other => panic!("a !Sub ARN, got {other:?}"),
        };
        let key_policy = &properties(&doc, "GuardKey")["KeyPolicy"];
        for sid in [
            "AccountSetsTheEnforcerEnvironmentThroughLambda",
            "EnforcerRoleDecryptsItsEnvironmentThroughLambda",
        ] {
            let condition = &with_sid(key_policy, sid)["Condition"]["StringEquals"];
            let arn = with_guard(&condition["kms:EncryptionContext:aws:lambda:FunctionArn"]);
            assert!(
                arn.ends_with(&format!(":function:{function}")),
                "{sid}: {arn}"
            );
        }
        let condition =
            &with_sid(key_policy, "LogsEncryptsTheEnforcerLogGroup")["Condition"]["ArnEquals"];
        let arn = with_guard(&condition["kms:EncryptionContext:aws:logs:arn"]);
        assert!(
            arn.ends_with(&format!(
                ":log-group:{}",
                name_of("EnforcerLogGroup.LogGroupName")
            )),
            "{arn}"
        );
        // The function's STACK_NAME is the guard's name too.
        assert_eq!(
            properties(&doc, "EnforcerFunction")["Environment"]["Variables"]["STACK_NAME"],
            ref_to("GuardName")
        );
    }
}

/// The check above would catch a name built from the stack's name again: in a resource name,
/// a `!Ref`, or a description.
#[test]
fn a_name_built_from_the_stack_name_is_found() {
    let template = render(&default_policy());
    assert_eq!(stack_name_uses(&parse(&template)), Vec::<String>::new());
    for (from, to) in [
        (
            "FunctionName: !Sub \"${GuardName}-enforcer\"",
            "FunctionName: !Sub \"${AWS::StackName}-enforcer\"",
        ),
        (
            "STACK_NAME: !Ref GuardName",
            "STACK_NAME: !Ref AWS::StackName",
        ),
        (
            "Description: !Sub \"Glue Session Guard ${GuardName}: the enforcer Lambda\"",
            "Description: !Sub \"Glue Session Guard ${AWS::StackName}: the enforcer Lambda\"",
        ),
    ] {
        assert!(template.contains(from), "{from}");
        let found = stack_name_uses(&parse(&template.replace(from, to)));
        assert_eq!(found.len(), 1, "{to}: {found:?}");
        assert!(found[0].starts_with("Resources: "), "{found:?}");
    }
}

/// The longest stack name and the longest override name are each valid, but their usage
/// profile's name would pass CloudFormation's 128 characters: an error naming the override.
#[test]
fn a_usage_profile_name_too_long_for_cloudformation_is_an_error_naming_the_override() {
    let mut policy = longest_names_policy("");
    policy.overrides[0].name.push('o');
    let error = render_stack(&policy).expect_err("129 characters");
    assert!(
        matches!(
            &error,
            RenderError::UsageProfileNameTooLong { field, chars: 129, .. }
                if field == "overrides[0].name"
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.starts_with("overrides[0].name: "), "{message}");
    assert!(message.contains("at most 118"), "{message}");
}

/// Org mode: IAM names are per account, and StackSets deploys one stack instance per account
/// and Region, so the guardrail policy (and its output) exist only in the first listed Region,
/// and read the usage profiles of every Region. Nothing else is conditional.
#[test]
fn in_org_mode_the_guardrail_policy_is_created_in_the_first_region_only() {
    let doc = rendered(&load(&organization_sample()));
    let conditions = doc["Conditions"].as_mapping().expect("Conditions");
    assert_eq!(conditions.len(), 1);
    assert_eq!(
        doc["Conditions"]["GuardrailRegion"],
        intrinsic("Equals", yaml("[!Ref AWS::Region, eu-west-1]"))
    );
    assert_eq!(
        resource(&doc, "GuardrailPolicy")["Condition"],
        "GuardrailRegion"
    );
    assert_eq!(
        doc["Outputs"]["GuardrailPolicyArn"]["Condition"],
        "GuardrailRegion"
    );
    for (id, body) in resources(&doc) {
        if id != "GuardrailPolicy" {
            assert!(body.get("Condition").is_none(), "{id:?}");
        }
    }
    let read = with_sid(
        &properties(&doc, "GuardrailPolicy")["PolicyDocument"],
        "ReadTheStackUsageProfiles",
    );
    assert_eq!(
        one_or_many(&read["Resource"])
            .iter()
            .map(|resource| resource["Fn::Sub"].clone())
            .collect::<Vec<_>>(),
        [
            "arn:${AWS::Partition}:glue:*:${AWS::AccountId}:usageProfile/glue-session-guard-default",
            "arn:${AWS::Partition}:glue:*:${AWS::AccountId}:usageProfile/glue-session-guard-override-*",
        ]
        .map(Value::from),
        "every Region's profiles"
    );

    // The Region is the first listed, whatever it is.
    let mut policy = load(&organization_sample());
    policy.organization.as_mut().unwrap().regions = vec!["ap-southeast-2".to_string()];
    assert_eq!(
        rendered(&policy)["Conditions"]["GuardrailRegion"],
        intrinsic("Equals", yaml("[!Ref AWS::Region, ap-southeast-2]"))
    );
    policy.organization.as_mut().unwrap().regions.clear();
    let error = render_stack(&policy).expect_err("no Region");
    assert!(matches!(error, RenderError::OrganizationWithoutRegions));
    assert!(
        error.to_string().starts_with("organization.regions: "),
        "{error}"
    );

    // Without an organization: no condition anywhere, and the profiles of this Region.
    let doc = rendered(&default_policy());
    assert!(doc.get("Conditions").is_none());
    assert!(resource(&doc, "GuardrailPolicy").get("Condition").is_none());
    assert!(
        doc["Outputs"]["GuardrailPolicyArn"]
            .get("Condition")
            .is_none()
    );
}

/// `organization.notifications_topic_arn`: the function gets it as CENTRAL_TOPIC_ARN, and the
/// role may publish to exactly that topic, and use a key of the topic's Region through SNS
/// there (for a topic encrypted with a customer managed key). Without it, neither.
#[test]
fn a_central_topic_is_in_the_environment_and_the_role_may_publish_to_it_only() {
    let topic = "arn:aws:sns:eu-west-1:111122223333:glue-guard-central";
    let policy = load(&organization_sample());
    assert_eq!(
        policy
            .organization
            .as_ref()
            .unwrap()
            .notifications_topic_arn
            .as_deref(),
        Some(topic)
    );
    let doc = rendered(&policy);
    let variables = &properties(&doc, "EnforcerFunction")["Environment"]["Variables"];
    assert_eq!(variables["CENTRAL_TOPIC_ARN"], topic);
    assert_eq!(
        variables["NOTIFICATION_TOPIC_ARN"],
        ref_to("NotificationTopic")
    );
    let document = &properties(&doc, "EnforcerRolePolicy")["PolicyDocument"];
    let publish: Vec<Value> = statements(document)
        .iter()
        .filter(|statement| one_or_many(&statement["Action"]).contains(&"sns:Publish".into()))
        .map(|statement| statement["Resource"].clone())
        .collect();
    assert_eq!(publish, [ref_to("NotificationTopic"), Value::from(topic)]);
    let central = with_sid(document, "PublishToTheCentralTopic");
    assert_eq!(central["Action"], "sns:Publish");
    let key = with_sid(document, "UseTheCentralTopicKeyThroughSns");
    assert_eq!(
        one_or_many(&key["Action"]),
        ["kms:Decrypt", "kms:GenerateDataKey"].map(Value::from)
    );
    assert_eq!(key["Resource"], "arn:aws:kms:eu-west-1:*:key/*");
    assert_eq!(
        key["Condition"]["StringEquals"]["kms:ViaService"],
        "sns.eu-west-1.amazonaws.com"
    );

    // An organization without a central topic, and no organization: neither.
    let mut without = policy.clone();
    without
        .organization
        .as_mut()
        .unwrap()
        .notifications_topic_arn = None;
    for policy in [without, default_policy()] {
        let doc = rendered(&policy);
        let variables = &properties(&doc, "EnforcerFunction")["Environment"]["Variables"];
        assert!(variables.get("CENTRAL_TOPIC_ARN").is_none());
        let document = &properties(&doc, "EnforcerRolePolicy")["PolicyDocument"];
        for sid in [
            "PublishToTheCentralTopic",
            "UseTheCentralTopicKeyThroughSns",
        ] {
            assert!(
                statements(document)
                    .iter()
                    .all(|statement| statement["Sid"] != sid),
                "{sid}"
            );
        }
    }
}

#[test]
fn the_central_topic_is_read_from_its_arn_or_refused_naming_the_field() {
    assert_eq!(
        CentralTopicView::of("arn:aws-cn:sns:cn-north-1:111122223333:guard_central"),
        Some(CentralTopicView {
            arn: "arn:aws-cn:sns:cn-north-1:111122223333:guard_central".to_string(),
            kms_keys: "arn:aws-cn:kms:cn-north-1:*:key/*".to_string(),
            kms_via_service: "sns.cn-north-1.amazonaws.com".to_string(),
        })
    );
    for arn in [
        "",
        "arn:aws:sqs:eu-west-1:111122223333:central",
        "arn:aws:sns:eu-west-1:1111:central",
        "arn:aws:sns:EU-west-1:111122223333:central",
        "arn:aws:sns:eu-west-1:111122223333:",
        "arn:aws:sns:eu-west-1:111122223333:central\"\n  Evil: 1",
    ] {
        assert_eq!(CentralTopicView::of(arn), None, "{arn}");
    }
    let mut policy = load(&organization_sample());
    policy
        .organization
        .as_mut()
        .unwrap()
        .notifications_topic_arn = Some("arn:aws:sns:eu-west-1:1111:central".to_string());
    let error = render_stack(&policy).expect_err("not a topic ARN");
    assert!(matches!(error, RenderError::InvalidCentralTopicArn { .. }));
    assert!(
        error
            .to_string()
            .starts_with("organization.notifications_topic_arn: "),
        "{error}"
    );
}

/// `render --central`: the organization's accounts may publish to the central topic, and that
/// is all the document allows.
#[test]
fn the_central_topic_policy_lets_the_organization_publish_and_nothing_else() {
    let policy = load(&organization_sample());
    let document = central_topic_policy(&policy).expect("the sample has a central topic");
    assert_eq!(
        document,
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "GuardsOfTheOrganizationPublish",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sns:Publish",
                "Resource": "arn:aws:sns:eu-west-1:111122223333:glue-guard-central",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            }],
        })
    );
    let mut without = policy.clone();
    without
        .organization
        .as_mut()
        .unwrap()
        .notifications_topic_arn = None;
    assert_eq!(central_topic_policy(&without), None);
    assert_eq!(central_topic_policy(&default_policy()), None);
}

// ---------------------------------------------------------------------------------------------
// The AWS limits real AWS enforces and the emulator does not (template/limits.rs)

/// The worst cases a policy can give: the longest guard name, an organization (StackSets, the
/// central topic), 60 overrides, the VPC mode, 50 tags. Each renders, which runs every limit
/// check on the template; and each limit is also broken on purpose, to see the check fail.
#[test]
fn the_worst_cases_render_within_every_aws_limit_and_a_broken_one_is_named() {
    let guard = format!("g{}", "x".repeat(MAX_STACK_NAME_CHARS - 1));
    let ids = |prefix: &str, count: usize| {
        (0..count)
            .map(|i| format!("{prefix}{i:017x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "version: 1\nstack:\n  name: {guard}\n  tags:\n{}boundaries: {{max_workers: 10, max_dpu: 20, \
         require_vpc_connection: true, required_tags: [owner]}}\noverrides:\n",
        maximal_tags_yaml(50, 'k')
    );
    for i in 0..60 {
        text.push_str(&format!(
            "  - name: team-{i:02}\n    principals: [\"arn:aws:iam::123456789012:role/Team{i:02}*\"]\n    \
             boundaries: {{max_workers: {}, require_vpc_connection: false}}\n",
            11 + i
        ));
    }
    text.push_str(&format!(
        "network:\n  subnet_ids: [{}]\n  security_group_ids: [{}]\n",
        ids("subnet-", policy::validate::MAX_SUBNETS),
        ids("sg-", policy::validate::MAX_SECURITY_GROUPS)
    ));
    let single = policy_text(&text);
    let organization = policy_text(&format!("{text}{ORGANIZATION_YAML}"));
    for policy in [&single, &organization] {
        let template = render(policy);
        check_aws_limits(&template, policy).unwrap();
        let doc = parse(&template);
        // The environment as Lambda measures it, the topic's ARN at its longest.
        let variables = &properties(&doc, "EnforcerFunction")["Environment"]["Variables"];
        let gsg = variables["GSG_POLICY"].as_str().unwrap();
        assert!(
            policy::runtime::environment_bytes(policy, gsg)
                <= policy::limits::LAMBDA_ENVIRONMENT_BYTES
        );
    }

    // Each limit, broken on purpose, is named.
    let template = render(&single);
    let broken = |from: &str, to: &str| {
        assert!(template.contains(from), "{from}");
        let changed = template.replacen(from, to, 1);
        check_aws_limits(&changed, &single).expect_err(&format!("{to:.80} breaks a limit"))
    };
    let error = broken(
        "FunctionName: !Sub \"${GuardName}-enforcer\"",
        "FunctionName: !Sub \"${GuardName}-enforcer-too-long\"",
    );
    assert_eq!(
        error.at,
        "Resources.EnforcerFunction.Properties.FunctionName"
    );
    assert!(error.problem.contains("takes 64"), "{error}");
    let error = broken(
        "ManagedPolicyName: !Sub \"${GuardName}-session-guardrails-${AWS::Region}\"",
        "ManagedPolicyName: !Sub \"${GuardName}-session-guardrails-${AWS::Region}-${GuardName}\"",
    );
    assert!(error.problem.contains("takes 128"), "{error}");
    // CloudWatch's dashboard body takes at most 500 widgets.
    let widget = r#"{\"type\":\"text\",\"x\":0,\"y\":0,\"width\":1,\"height\":1,\"properties\":{\"markdown\":\"x\"}},"#;
    let error = broken(
        "DashboardBody: !Sub \"{\\\"widgets\\\":[",
        &format!(
            "DashboardBody: !Sub \"{{\\\"widgets\\\":[{}",
            widget.repeat(500)
        ),
    );
    assert_eq!(error.at, "Resources.Dashboard.Properties.DashboardBody");
    assert!(error.problem.contains("a dashboard takes 500"), "{error}");
    let error = broken("RUST_LOG: info", "EXTRA: info");
    assert!(
        error
            .problem
            .contains("`EXTRA` is not one of the variables"),
        "{error}"
    );
    let error = broken("RUST_LOG: info", &format!("RUST_LOG: {}", "i".repeat(4000)));
    assert!(error.problem.contains("as Lambda measures them"), "{error}");
    let error = broken(
        "Description: \"Glue Session Guard:",
        &format!("Description: \"{}", "d".repeat(1100)),
    );
    assert_eq!(error.at, "Description");
    let statement = format!(
        "          - {{\"Sid\": \"Big\", \"Effect\": \"Deny\", \"Action\": \"glue:CreateSession\", \"Resource\": \"{}\"}}\n",
        "r".repeat(7000)
    );
    let error = broken(
        "          - {\"Action\":\"glue:GetUsageProfile\"",
        &format!("{statement}          - {{\"Action\":\"glue:GetUsageProfile\""),
    );
    assert_eq!(
        error.at,
        "Resources.GuardrailPolicy.Properties.PolicyDocument"
    );
}

/// The variables the template gives the function are exactly the ones `policy::runtime`
/// measures, in the same order: the 4 KB check can never miss one.
#[test]
fn the_template_sets_exactly_the_environment_variables_the_size_check_counts() {
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let variables = properties(&doc, "EnforcerFunction")["Environment"]["Variables"]
            .as_mapping()
            .unwrap();
        let keys: Vec<&str> = variables.keys().map(|key| key.as_str().unwrap()).collect();
        let expected: Vec<&str> = policy::runtime::ENVIRONMENT_VARIABLES
            .iter()
            .copied()
            .filter(|key| {
                *key != "CENTRAL_TOPIC_ARN"
                    || policy
                        .organization
                        .as_ref()
                        .is_some_and(|o| o.notifications_topic_arn.is_some())
            })
            .collect();
        assert_eq!(keys, expected, "{}", file.display());
    }
}

/// CloudFormation puts a parameter a request leaves out back to its default on every update:
/// the template takes only the parameters deploy passes each time (and `GuardName`, whose only
/// allowed value is the policy's), so no setting is ever reset to a default nobody chose.
#[test]
fn the_template_takes_only_the_parameters_deploy_passes_every_time() {
    for file in case_files() {
        let policy = load(&file);
        let doc = rendered(&policy);
        let parameters: Vec<&str> = doc["Parameters"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|key| key.as_str().unwrap())
            .collect();
        let mut expected = vec!["GuardName"];
        expected.extend(CODE_PARAMETERS);
        assert_eq!(parameters, expected, "{}", file.display());
        assert_eq!(
            one_or_many(&doc["Parameters"]["GuardName"]["AllowedValues"]),
            vec![Value::from(policy.stack.name.as_str())]
        );
    }
}

/// The reviewer's copy of the policy in `Metadata` never reads "nobody is notified" for a policy
/// with emails: the emails are the topic's subscriptions, so `notifications` shows only with what
/// the enforcer reads of it (the exception instructions).
#[test]
fn the_metadata_policy_shows_notifications_only_with_what_the_enforcer_reads() {
    let base = "version: 1\nstack: {name: gsg-meta}\nboundaries: {max_workers: 5}\n";
    let policy_lines = |extra: &str| {
        let policy = policy::load_policy("p.yaml", format!("{base}{extra}").as_bytes()).unwrap();
        let doc = rendered(&policy);
        serde_yaml::to_string(&doc["Metadata"]["GlueSessionGuard"]["Policy"]).unwrap()
    };
    let emails_only = policy_lines("notifications: {emails: [team@example.com]}\n");
    assert!(!emails_only.contains("notifications"), "{emails_only}");
    let with_instructions = policy_lines(
        "notifications: {emails: [team@example.com], exception_instructions: Ask the platform team}\n",
    );
    assert!(
        with_instructions.contains("exception_instructions: Ask the platform team"),
        "{with_instructions}"
    );
    assert!(
        !with_instructions.contains("team@example.com"),
        "{with_instructions}"
    );
    let doc = rendered(
        &policy::load_policy(
            "p.yaml",
            format!("{base}notifications: {{emails: [team@example.com]}}\n").as_bytes(),
        )
        .unwrap(),
    );
    assert_eq!(
        properties(&doc, "NotificationTopic")["Subscription"][0]["Endpoint"],
        "team@example.com",
        "the email is the topic's subscription"
    );
}

#[test]
fn an_empty_mapping_in_the_metadata_policy_reads_as_one() {
    let mut map = serde_yaml::Mapping::new();
    map.insert(
        "sweep".into(),
        serde_yaml::Value::Mapping(Default::default()),
    );
    let mut lines = Vec::new();
    mapping_lines(&map, 0, Dash::None, &mut lines);
    assert!(lines[0].empty && lines[0].list.is_none(), "{lines:?}");
}

/// `policies/teams.yaml`: each e-mail of a route subscribes with that route's filter policy and
/// the default list with `default_receives`' one (the very values `policy::routes` derives, so
/// the enforcer's `routes` attribute and the subscriptions cannot drift apart); each audience
/// with chat channels has its topic, `<stack>-chat-<audience>`; each Slack and Microsoft Teams
/// channel hears its own audience's topic through the no-permission role and AWSDenyAll; and the
/// enforcer may publish to exactly those topics.
#[test]
fn routes_subscribe_with_their_filter_policies_and_chat_channels_hear_their_audiences_topic() {
    use policy::routes::{
        DEFAULT_AUDIENCE, all_chat_audiences, chat_topic_name, default_filter_policy,
        route_filter_policy,
    };
    let policy = load(&paths::policies_dir().join("teams.yaml"));
    let notifications = policy.notifications.as_ref().expect("teams.yaml notifies");
    let stack = policy.stack.name.as_str();
    let doc = rendered(&policy);

    // E-mail subscriptions with filter policies.
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for route in &notifications.routes {
        for email in &route.emails {
            expected.insert((email.clone(), route_filter_policy(route).to_string()));
        }
    }
    let default_filter = default_filter_policy(&policy).expect("teams.yaml: unrouted");
    for email in &notifications.emails {
        expected.insert((email.clone(), default_filter.to_string()));
    }
    let mut found = BTreeSet::new();
    for (id, body) in of_type(&doc, "AWS::SNS::Subscription") {
        let props = &body["Properties"];
        assert_eq!(props["TopicArn"], ref_to("NotificationTopic"), "{id}");
        assert_eq!(props["Protocol"], "email", "{id}");
        assert_eq!(props["FilterPolicyScope"], "MessageAttributes", "{id}");
        let filter: serde_json::Value =
            serde_json::to_value(&props["FilterPolicy"]).expect("a filter policy is JSON");
        let endpoint = props["Endpoint"].as_str().expect("an e-mail endpoint");
        found.insert((endpoint.to_string(), filter.to_string()));
    }
    assert_eq!(found, expected);
    assert!(
        properties(&doc, "NotificationTopic")["Subscription"].is_null(),
        "with default_receives: unrouted no address subscribes unfiltered"
    );

    // Chat topics: one per audience, named as the enforcer names them.
    let topics: BTreeMap<String, String> = of_type(&doc, "AWS::SNS::Topic")
        .into_iter()
        .filter_map(|(id, body)| {
            let name = body["Properties"]["TopicName"].as_str()?;
            Some((id.to_string(), name.to_string()))
        })
        .collect();
    let expected_names: BTreeSet<String> = all_chat_audiences(&policy)
        .iter()
        .map(|audience| chat_topic_name(stack, audience))
        .collect();
    assert_eq!(expected_names.len(), 3, "default, analytics and finance");
    assert_eq!(
        topics.values().cloned().collect::<BTreeSet<_>>(),
        expected_names
    );

    // Each channel configuration hears its audience's topic, and may do nothing.
    let topic_heard = |id: &str, body: &Value| -> String {
        let props = &body["Properties"];
        assert_eq!(props["IamRoleArn"], get_att("ChatChannelRole.Arn"), "{id}");
        assert_eq!(
            props["GuardrailPolicies"],
            yaml("[arn:aws:iam::aws:policy/AWSDenyAll]"),
            "{id}"
        );
        let mut heard = Vec::new();
        references_in(&props["SnsTopicArns"], &mut heard);
        assert_eq!(heard.len(), 1, "{id}: one topic");
        let logical = &heard[0];
        topics
            .get(logical)
            .unwrap_or_else(|| panic!("{id}: {logical} is not a chat topic"))
            .clone()
    };
    let mut slack_expected = BTreeSet::new();
    let mut teams_expected = BTreeSet::new();
    let audiences = std::iter::once((DEFAULT_AUDIENCE, &notifications.slack, &notifications.teams))
        .chain(
            notifications
                .routes
                .iter()
                .map(|route| (route.name.as_str(), &route.slack, &route.teams)),
        );
    for (audience, slack, teams) in audiences {
        for channel in slack {
            slack_expected.insert((
                channel.workspace_id.clone(),
                channel.channel_id.clone(),
                chat_topic_name(stack, audience),
            ));
        }
        for channel in teams {
            teams_expected.insert((
                channel.tenant_id.clone(),
                channel.team_id.clone(),
                // AWS::Chatbot::MicrosoftTeamsChannelConfiguration takes it URL-encoded.
                notifications::encoded_teams_channel_id(&channel.channel_id),
                chat_topic_name(stack, audience),
            ));
        }
    }
    let slack_found: BTreeSet<_> = of_type(&doc, "AWS::Chatbot::SlackChannelConfiguration")
        .into_iter()
        .map(|(id, body)| {
            let props = &body["Properties"];
            (
                props["SlackWorkspaceId"].as_str().unwrap().to_string(),
                props["SlackChannelId"].as_str().unwrap().to_string(),
                topic_heard(id, body),
            )
        })
        .collect();
    assert_eq!(slack_found, slack_expected);
    let teams_found: BTreeSet<_> =
        of_type(&doc, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration")
            .into_iter()
            .map(|(id, body)| {
                let props = &body["Properties"];
                (
                    props["TeamsTenantId"].as_str().unwrap().to_string(),
                    props["TeamId"].as_str().unwrap().to_string(),
                    props["TeamsChannelId"].as_str().unwrap().to_string(),
                    topic_heard(id, body),
                )
            })
            .collect();
    assert_eq!(teams_found, teams_expected);

    // The channels' role: trusted by the chat service alone, with no permission at all.
    let role = properties(&doc, "ChatChannelRole");
    assert!(role["Policies"].is_null() && role["ManagedPolicyArns"].is_null());
    let trust = statements(&role["AssumeRolePolicyDocument"]);
    assert_eq!(trust.len(), 1);
    assert_eq!(
        trust[0]["Principal"],
        yaml("{Service: chatbot.amazonaws.com}")
    );

    // The enforcer publishes to exactly the chat topics.
    let document = &properties(&doc, "EnforcerRolePolicy")["PolicyDocument"];
    let mut published = Vec::new();
    references_in(
        &with_sid(document, "PublishToChatTopics")["Resource"],
        &mut published,
    );
    published.sort();
    assert_eq!(published, topics.keys().cloned().collect::<Vec<_>>());

    // A policy without chat channels has none of it.
    let plain = rendered(&default_policy());
    assert!(of_type(&plain, "AWS::SNS::Subscription").is_empty());
    assert!(!logical_ids(&plain).contains("ChatChannelRole"));
    let plain_document = &properties(&plain, "EnforcerRolePolicy")["PolicyDocument"];
    assert!(
        statements(plain_document)
            .iter()
            .all(|statement| statement["Sid"] != "PublishToChatTopics")
    );
}
