use super::*;
use crate::load_policy;

fn policy(text: &str) -> Policy {
    load_policy("p.yaml", text.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"))
}

fn errors(text: &str) -> String {
    load_policy("p.yaml", text.as_bytes())
        .expect_err("the policy should be refused")
        .to_string()
}

const DEFAULT: &str = include_str!("../../../policies/default.yaml");

#[test]
fn profiles_hold_the_default_boundaries_and_each_override() {
    let policy = policy(DEFAULT);
    let profiles = usage_profiles(&policy);
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "glue-session-guard-default",
            "glue-session-guard-override-platform-admins",
            "glue-session-guard-override-ml-training",
        ]
    );
    let default = &profiles[0];
    // Limits from the boundaries; defaults the smaller of Glue's (5 x G.1X, 2880 min) and them.
    assert_eq!(
        default.number_of_workers,
        Some(NumberSetting {
            default: 5,
            max: Some(10)
        })
    );
    assert_eq!(
        default.worker_type,
        Some(WorkerTypeSetting {
            default: "G.1X".into(),
            allowed: Some(vec!["G.1X".into(), "G.2X".into()])
        })
    );
    assert_eq!(
        default.timeout,
        Some(NumberSetting {
            default: 480,
            max: Some(480)
        })
    );
    assert_eq!(
        default.idle_timeout,
        Some(NumberSetting {
            default: 120,
            max: Some(120)
        })
    );
    // 10 x G.2X = 20 DPU = max_dpu: the profile keeps DPU within the limit.
    assert_eq!(default.dpu_detective_only, None);

    let admins = &profiles[1];
    assert_eq!(admins.number_of_workers.unwrap().max, Some(60));
    assert_eq!(
        admins
            .worker_type
            .as_ref()
            .unwrap()
            .allowed
            .as_deref()
            .unwrap(),
        ["G.1X", "G.2X", "G.4X", "G.8X"]
    );
    // 60 x G.8X = 480 DPU > 120: DPU stays with the Lambda, and says why.
    let why = admins.dpu_detective_only.as_deref().unwrap();
    assert!(why.contains("60 x 8 = 480 DPU"), "{why}");
    assert!(why.contains("detective-only"), "{why}");

    let ml = &profiles[2];
    assert_eq!(ml.timeout.unwrap().max, Some(1440));
    assert_eq!(ml.idle_timeout.unwrap().max, Some(240));
    assert_eq!(ml.number_of_workers.unwrap().max, Some(10));

    let configuration = default.configuration();
    assert_eq!(
        configuration["SessionConfiguration"]["numberOfWorkers"],
        serde_json::json!({"DefaultValue": "5", "MinValue": "1", "MaxValue": "10"})
    );
    assert_eq!(
        configuration["SessionConfiguration"]["workerType"],
        serde_json::json!({"DefaultValue": "G.1X", "AllowedValues": ["G.1X", "G.2X"]})
    );
}

#[test]
fn policy_defaults_are_used_and_brought_inside_each_profile() {
    let policy = policy(
        "version: 1\nstack: {name: guard}\n\
         boundaries: {max_workers: 10, allowed_worker_types: [G.1X, G.2X], max_timeout_minutes: 480}\n\
         overrides:\n\
         - {name: small, principals: ['arn:aws:iam::*:role/Small'], boundaries: {max_workers: 2, allowed_worker_types: [G.1X]}}\n\
         usage_profiles: {defaults: {number_of_workers: 4, worker_type: G.2X, timeout_minutes: 60}}\n",
    );
    let profiles = usage_profiles(&policy);
    assert_eq!(profiles[0].number_of_workers.unwrap().default, 4);
    assert_eq!(profiles[0].worker_type.as_ref().unwrap().default, "G.2X");
    assert_eq!(profiles[0].timeout.unwrap().default, 60);
    // Idle timeout: Glue's default is the timeout; no limit, so the key is left to Glue.
    assert_eq!(profiles[0].idle_timeout, None);
    // The override allows 2 workers of G.1X only: the defaults come inside.
    assert_eq!(profiles[1].number_of_workers.unwrap().default, 2);
    assert_eq!(profiles[1].worker_type.as_ref().unwrap().default, "G.1X");
}

#[test]
fn a_default_session_stays_within_max_dpu() {
    let policy = policy(
        "version: 1\nstack: {name: guard}\n\
         boundaries: {max_workers: 10, max_dpu: 4, allowed_worker_types: [G.2X]}\n",
    );
    let profile = &usage_profiles(&policy)[0];
    // Glue's 5 workers of G.2X would be 10 DPU: 2 workers are the most within 4 DPU.
    assert_eq!(profile.number_of_workers.unwrap().default, 2);
    assert!(profile.dpu_detective_only.is_some());
}

#[test]
fn overrides_with_the_same_settings_share_a_profile() {
    let policy = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
         overrides:\n\
         - {name: a, principals: ['arn:aws:iam::*:role/A'], boundaries: {max_workers: 20}}\n\
         - {name: b, principals: ['arn:aws:iam::*:role/B'], boundaries: {max_workers: 20}}\n\
         - {name: c, principals: ['arn:aws:iam::*:role/C'], boundaries: {allowed_connections: [x]}}\n",
    );
    let profiles = usage_profiles(&policy);
    assert_eq!(profiles.len(), 2);
    assert_eq!(profiles[0].boundary_sets, ["default", "c"]);
    assert_eq!(profiles[1].boundary_sets, ["a", "b"]);
    assert_eq!(profile_of(&profiles, "b").unwrap().name, "guard-override-a");
}

fn conditions(deny: &Deny) -> &serde_json::Value {
    &deny.statement["Condition"]
}

#[test]
fn one_deny_for_the_vpc_and_one_per_required_tag() {
    let policy = policy(DEFAULT);
    let (denies, notes) = denies(&policy, Layer::ManagedPolicy);
    let sids: Vec<&str> = denies.iter().map(|deny| deny.sid.as_str()).collect();
    assert_eq!(
        sids,
        [
            "DenyCreateSessionWithoutVpc",
            "DenyCreateSessionWithoutTagOwner",
            "DenyJobWithoutVpc",
            "DenyCreateJobWithoutTagOwner"
        ]
    );
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(
        conditions(&denies[0]),
        &serde_json::json!({"Null": {"glue:VpcIds": "true"}})
    );
    assert_eq!(
        conditions(&denies[1]),
        &serde_json::json!({"Null": {"aws:RequestTag/owner": "true"}})
    );
    for deny in &denies {
        assert_eq!(deny.statement["Effect"], "Deny");
    }
    for deny in &denies[..2] {
        assert_eq!(deny.statement["Action"], "glue:CreateSession");
    }
    // The SCP excludes the exempt principals.
    let (denies, _) = super::denies(&policy, Layer::Scp);
    assert_eq!(
        conditions(&denies[0])["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::123456789012:role/BreakGlass"])
    );
}

#[test]
fn no_vpc_rule_no_vpc_deny() {
    let policy = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10, required_tags: [owner, cost-center]}\n",
    );
    let (denies, _) = denies(&policy, Layer::ManagedPolicy);
    let rules: Vec<&str> = denies.iter().map(|deny| deny.rule.as_str()).collect();
    assert_eq!(
        rules,
        ["required_tags `owner`", "required_tags `cost-center`"]
    );
    assert_eq!(denies[1].sid, "DenyCreateSessionWithoutTagCostCenter");
    let policy = policy_without_rules();
    assert!(super::denies(&policy, Layer::Scp).0.is_empty());
    assert_eq!(scp(&policy).text, None);
}

#[test]
fn a_boundary_set_that_limits_nothing_a_profile_holds_has_no_profile() {
    let policy = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {require_vpc_connection: true}\n\
         overrides:\n\
         - {name: big, principals: ['arn:aws:iam::*:role/Big'], boundaries: {max_workers: 20}}\n\
         usage_profiles: {roles: [{role: 'arn:aws:iam::123456789012:role/Analyst'}]}\n",
    );
    let profiles = usage_profiles(&policy);
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].boundary_sets, ["big"]);
    assert_eq!(assignments(&policy, None)[0].usage_profile, None);
}

fn policy_without_rules() -> Policy {
    policy("version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n")
}

#[test]
fn overrides_that_loosen_or_tighten_a_rule_are_said_with_the_principal_arn() {
    // Default requires a VPC; one override lifts it: excluded from the deny.
    let policy = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {require_vpc_connection: true}\n\
         overrides:\n\
         - {name: lab, principals: ['arn:aws:iam::*:role/Lab*', 'arn:aws:sts::*:assumed-role/Tmp/alice'], boundaries: {require_vpc_connection: false}}\n\
         - {name: tags, principals: ['arn:aws:iam::*:role/Finance'], boundaries: {required_tags: [owner]}}\n",
    );
    let (denies, notes) = denies(&policy, Layer::ManagedPolicy);
    assert_eq!(
        conditions(&denies[0])["ArnNotLike"]["aws:PrincipalArn"],
        // The session pattern is widened to the whole role: excluding more is the safe side.
        serde_json::json!(["arn:aws:iam::*:role/Lab*", "arn:aws:iam::*:role/*Tmp"])
    );
    // Only the `tags` override requires `owner`: its principals, minus earlier overrides that
    // do not (the first match wins in the Lambda too).
    assert_eq!(denies[1].sid, "DenyCreateSessionWithoutTagOwnerForTags");
    assert_eq!(
        conditions(&denies[1])["ArnLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::*:role/Finance"])
    );
    assert_eq!(
        conditions(&denies[1])["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::*:role/Lab*", "arn:aws:iam::*:role/*Tmp"])
    );
    assert!(notes.is_empty(), "{notes:?}");

    // A tightening override named by session: IAM cannot name it, so it stays detective-only.
    let policy = super::tests::policy(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
         overrides:\n\
         - {name: alice, principals: ['arn:aws:sts::*:assumed-role/Shared/alice'], boundaries: {require_vpc_connection: true}}\n",
    );
    let (denies, notes) = super::denies(&policy, Layer::ManagedPolicy);
    assert!(denies.is_empty());
    assert!(notes[0].contains("detective-only"), "{notes:?}");
}

#[test]
fn sessions_picked_or_exempted_by_id_are_named_by_their_arn_in_both_layers() {
    // Data previews: loosened by an override, and some exempt. Neither layer may refuse them.
    let policy = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {require_vpc_connection: true, max_workers: 10}\n\
         overrides:\n\
         - {name: previews, session_ids: ['glue-studio-datapreview-*'], boundaries: {require_vpc_connection: false}}\n\
         - {name: audited, session_ids: ['audit-*'], boundaries: {required_tags: [owner]}}\n\
         exempt_session_ids: ['keep-*']\n",
    );
    for layer in [Layer::ManagedPolicy, Layer::Scp] {
        let (denies, notes) = denies(&policy, layer);
        // `audited` names sessions, and some sessions are exempt by id: IAM cannot say both.
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("overrides[1] (`audited`)"),
            "{notes:?}"
        );
        let vpc = &denies[0].statement;
        assert_eq!(vpc["Resource"], serde_json::Value::Null);
        assert_eq!(
            vpc["NotResource"],
            serde_json::json!([
                "arn:*:glue:*:*:session/glue-studio-datapreview-*",
                "arn:*:glue:*:*:session/keep-*"
            ])
        );
        assert_eq!(denies.len(), 1);
    }
    // Without exemptions by id, the tightening override gets a deny on exactly its sessions,
    // of its principals when it names them (both must hold, as in the Lambda).
    let team_policy = super::tests::policy(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
         overrides:\n\
         - {name: audited, session_ids: ['audit-*'], boundaries: {required_tags: [owner]}}\n\
         - {name: team, principals: ['arn:aws:iam::*:role/Team'], session_ids: ['team-*'], boundaries: {required_tags: [owner]}}\n",
    );
    let (denies, notes) = super::denies(&team_policy, Layer::ManagedPolicy);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(
        denies[0].sid,
        "DenyCreateSessionWithoutTagOwnerForAuditedIds"
    );
    assert_eq!(
        denies[0].statement["Resource"],
        serde_json::json!(["arn:*:glue:*:*:session/audit-*"])
    );
    assert_eq!(conditions(&denies[0])["ArnLike"], serde_json::Value::Null);
    assert_eq!(denies[1].sid, "DenyCreateSessionWithoutTagOwnerForTeam");
    assert_eq!(
        denies[1].statement["Resource"],
        serde_json::json!(["arn:*:glue:*:*:session/team-*"])
    );
    assert_eq!(
        conditions(&denies[1])["ArnLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::*:role/Team"])
    );
    // No profile for an override that picks sessions only by id: a profile goes to a caller.
    let names: Vec<String> = usage_profiles(&policy)
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["guard-default"]);
    let rows = coverage(&policy);
    assert!(
        rows.iter()
            .any(|row| row.boundary == "require_vpc_connection")
    );
}

/// An override that picks sessions by principal *and* session id, loosening a requirement:
/// IAM leaves its principals and its ids out of the deny each on its own (a wider hole than the
/// override's), and after its expiry its ids stay out. Both are said, in `render`'s notes and on
/// the requirement's `coverage` row.
#[test]
fn what_a_deny_leaves_out_beyond_an_override_by_principal_and_id_is_said() {
    let policy = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {require_vpc_connection: true, max_workers: 10}\n\
         overrides:\n\
         - {name: previews, principals: ['arn:aws:iam::*:role/DataEngineer'], session_ids: ['glue-studio-datapreview-*'], \
            expires: '2027-03-31T00:00:00Z', boundaries: {require_vpc_connection: false}}\n",
    );
    let (denies, notes) = denies(&policy, Layer::ManagedPolicy);
    let vpc = &denies[0].statement;
    assert_eq!(
        vpc["NotResource"],
        serde_json::json!(["arn:*:glue:*:*:session/glue-studio-datapreview-*"])
    );
    assert_eq!(
        notes,
        [
            "overrides[0] (`previews`) picks the sessions of its principals with its session ids, \
             but the IAM deny on require_vpc_connection leaves out each apart: any session of its \
             principals, and a session of its ids whoever creates it; the Lambda alone judges the \
             sessions only one of them picks",
            "overrides[0] (`previews`): its sessions stay left out of the IAM deny on \
             require_vpc_connection by id after it expires at 2027-03-31T00:00:00Z (NotResource \
             takes no condition); the Lambda judges them by the default boundaries from then",
        ]
    );
    let rows = coverage(&policy);
    let vpc_row = rows
        .iter()
        .find(|row| row.boundary == "require_vpc_connection")
        .expect("a row");
    assert_eq!(vpc_row.notes, notes, "{vpc_row:?}");

    // Said only where a deny leaves the ids out: an override that loosens the rule after the
    // one that adds it is not left out of that one's deny (first match wins), so nothing is said;
    // before it, it is.
    let order = |first: &str, second: &str| {
        format!(
            "version: 1\nstack: {{name: guard}}\nboundaries: {{max_workers: 10}}\noverrides:\n{first}{second}"
        )
    };
    let adds = "- {name: adds, principals: ['arn:aws:iam::*:role/Secure'], boundaries: {require_vpc_connection: true}}\n";
    let loosens = "- {name: loose, principals: ['arn:aws:iam::*:role/DataEngineer'], session_ids: ['preview-*'], \
                   boundaries: {require_vpc_connection: false}}\n";
    let (_, after) = super::denies(
        &super::tests::policy(&order(adds, loosens)),
        Layer::ManagedPolicy,
    );
    assert!(after.is_empty(), "{after:?}");
    let (denies_before, before) = super::denies(
        &super::tests::policy(&order(loosens, adds)),
        Layer::ManagedPolicy,
    );
    assert_eq!(
        denies_before[0].statement["NotResource"],
        serde_json::json!(["arn:*:glue:*:*:session/preview-*"])
    );
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(
        before[0].starts_with("overrides[0] (`loose`) picks"),
        "{before:?}"
    );
}

#[test]
fn the_scp_fits_or_says_what_it_dropped() {
    let default = policy(DEFAULT);
    let scp = scp(&default);
    let text = scp.text.as_deref().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed["Version"], "2012-10-17");
    assert_eq!(
        parsed["Statement"].as_array().unwrap().len(),
        4,
        "two on sessions, two on jobs"
    );
    assert!(text.chars().count() <= crate::limits::ORGANIZATIONS_SCP_CHARS);
    assert!(scp.dropped.is_empty());
    // Pretty when it fits.
    assert!(text.contains("\n  "));

    let exempt: Vec<String> = (0..50)
        .map(|i| {
            format!(
                "'arn:aws:iam::{:012}:role/BreakGlassEmergencyAccess{i:02}'",
                100_000_000_000_u64 + i
            )
        })
        .collect();
    let many = policy(&format!(
        "version: 1\nstack: {{name: guard}}\n\
         boundaries: {{require_vpc_connection: true, required_tags: [owner, team]}}\n\
         exempt_principals: [{}]\n",
        exempt.join(", ")
    ));
    let scp = super::scp(&many);
    let text = scp.text.as_deref().unwrap();
    assert!(
        text.chars().count() <= crate::limits::ORGANIZATIONS_SCP_CHARS,
        "{}",
        text.len()
    );
    let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
    let kept = parsed["Statement"].as_array().unwrap();
    assert_eq!(kept.len() + scp.dropped.len(), 3);
    assert!(
        !scp.dropped.is_empty(),
        "50 long exemptions x 3 statements cannot fit"
    );
    // The VPC deny is the one kept first; what was dropped is named.
    assert_eq!(kept[0]["Sid"], "DenyCreateSessionWithoutVpc");
    assert_eq!(scp.dropped.last().unwrap().rule, "required_tags `team`");
    assert_eq!(
        kept[0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
}

#[test]
fn roles_get_the_profile_the_lambda_judges_them_by() {
    let mut text = DEFAULT.to_string();
    text.push_str(
        "usage_profiles:\n  roles:\n\
         \x20   - role: arn:aws:iam::123456789012:role/team/DataEngineer\n\
         \x20   - role: arn:aws:iam::123456789012:role/DataPlatformAdmin\n\
         \x20     profile: platform-admins\n",
    );
    let policy = policy(&text);
    let assignments = assignments(&policy, None);
    assert_eq!(assignments.len(), 2);
    assert_eq!(assignments[0].role_name, "DataEngineer");
    assert_eq!(assignments[0].account, "123456789012");
    assert_eq!(
        assignments[0].usage_profile.as_deref(),
        Some("glue-session-guard-default")
    );
    assert_eq!(assignments[1].boundary_set, "platform-admins");
    assert_eq!(
        assignments[1].usage_profile.as_deref(),
        Some("glue-session-guard-override-platform-admins")
    );
}

#[test]
fn assignments_that_would_disagree_with_the_lambda_are_refused() {
    let with = |roles: &str| format!("{DEFAULT}usage_profiles:\n  roles:\n{roles}");
    let cases = [
        (
            "    - role: arn:aws:iam::123456789012:role/DataPlatformAdmin\n      profile: default\n",
            "usage_profiles.roles[0].profile: `default` disagrees with the Lambda: the override \
             `platform-admins` is the first to match it",
        ),
        (
            "    - role: arn:aws:iam::123456789012:role/BreakGlass\n",
            "matches exempt_principals[0]",
        ),
        (
            "    - role: arn:aws:iam::*:role/Anything\n",
            "is not an IAM role ARN",
        ),
        (
            "    - role: arn:aws:iam::123456789012:role/A\n    - role: arn:aws:iam::123456789012:role/A\n",
            "usage_profiles.roles[1].role: `arn:aws:iam::123456789012:role/A` is listed twice",
        ),
        (
            "    - role: arn:aws:iam::123456789012:role/A\n      profile: nobody\n",
            "`nobody` is neither `default` nor an override's name",
        ),
    ];
    for (roles, expected) in cases {
        let errors = errors(&with(roles));
        assert!(errors.contains(expected), "{roles}\n{errors}");
    }
    let split = errors(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n\
         overrides:\n\
         - {name: alice, principals: ['arn:aws:sts::*:assumed-role/Shared/alice'], boundaries: {max_workers: 20}}\n\
         usage_profiles: {roles: [{role: 'arn:aws:iam::123456789012:role/Shared'}]}\n",
    );
    assert!(
        split.contains("picks some sessions of this role by session name"),
        "{split}"
    );
}

#[test]
fn defaults_outside_the_limits_are_refused_with_their_field() {
    let errors = errors(&format!(
        "{DEFAULT}usage_profiles:\n  defaults: {{number_of_workers: 11, worker_type: G.8X, \
         timeout_minutes: 481, idle_timeout_minutes: 121}}\n"
    ));
    for expected in [
        "usage_profiles.defaults.number_of_workers: 11 is above boundaries.max_workers (10)",
        "usage_profiles.defaults.worker_type: `G.8X` is not in boundaries.allowed_worker_types",
        "usage_profiles.defaults.timeout_minutes: 481 is above boundaries.max_timeout_minutes",
        "usage_profiles.defaults.idle_timeout_minutes: 121 is above boundaries.max_idle_timeout_minutes",
    ] {
        assert!(errors.contains(expected), "{expected}\n{errors}");
    }
    // 10 x G.2X = 20 DPU is max_dpu itself: inside. With max_dpu 19 it is not.
    let at_limit = format!(
        "{DEFAULT}usage_profiles:\n  defaults: {{number_of_workers: 10, worker_type: G.2X}}\n"
    );
    policy(&at_limit);
    let over = super::tests::errors(&at_limit.replace("max_dpu: 20", "max_dpu: 19"));
    assert!(
        over.contains(
            "usage_profiles.defaults.number_of_workers: 10 x G.2X is 20 DPU, above \
             boundaries.max_dpu (19)"
        ),
        "{over}"
    );
}

#[test]
fn coverage_says_which_layer_holds_each_boundary() {
    let rows = coverage(&policy(DEFAULT));
    let row = |name: &str| rows.iter().find(|row| row.boundary == name).unwrap();
    assert_eq!(row("max_workers").before_start, [USAGE_PROFILE]);
    assert_eq!(row("max_workers").values, "10; platform-admins: 60");
    assert_eq!(
        row("require_vpc_connection").before_start,
        [IAM_POLICY, SCP]
    );
    assert_eq!(row("required_tags `owner`").before_start, [IAM_POLICY, SCP]);
    assert!(row("allowed_glue_versions").before_start.is_empty());
    assert!(row("allowed_connections").before_start.is_empty());
    // The default's profile holds its max_dpu (10 x G.2X = 20); platform-admins may reach 480
    // DPU within its own, so its max_dpu is the Lambda's alone, said in the notes.
    assert_eq!(row("max_dpu").before_start, [USAGE_PROFILE]);
    assert_eq!(row("max_dpu").notes.len(), 1, "{:?}", row("max_dpu").notes);
    assert!(row("max_dpu").notes[0].starts_with("platform-admins: "));
    // When no set's profile can hold it, no layer is named before the start.
    let loose = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10, max_dpu: 5, \
         allowed_worker_types: [G.1X]}\n",
    );
    let rows = coverage(&loose);
    let dpu = rows.iter().find(|row| row.boundary == "max_dpu").unwrap();
    assert!(dpu.before_start.is_empty(), "{dpu:?}");
    // An override by session id has no profile of its own: its max_dpu is said too.
    let by_id = policy(
        "version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10, max_dpu: 10, \
         allowed_worker_types: [G.1X]}\noverrides:\n  - {name: previews, session_ids: ['preview-*'], \
         boundaries: {max_dpu: 2}}\n",
    );
    let rows = coverage(&by_id);
    let dpu = rows.iter().find(|row| row.boundary == "max_dpu").unwrap();
    assert_eq!(dpu.before_start, [USAGE_PROFILE], "{dpu:?}");
    assert_eq!(
        dpu.notes,
        [
            "previews: picked by session id, so the usage profile of whoever creates them applies, \
          not this value"
        ],
        "{dpu:?}"
    );
    for row in &rows {
        assert_eq!(row.after_start, "Lambda stops");
    }
}

const JOBS: &str = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
jobs:
  boundaries:
    max_workers: 50
    allowed_worker_types: [G.1X, G.2X]
    max_timeout_minutes: 600
    require_vpc_connection: true
    required_tags: [owner]
  overrides:
    - {name: legacy, job_names: ["legacy-*"], boundaries: {require_vpc_connection: false}}
    - {name: ops, principals: ["arn:aws:iam::*:role/Ops"], boundaries: {required_tags: [team], max_workers: 200, allowed_worker_types: [G.8X]}}
    - {name: strict, job_names: ["pii-*"], boundaries: {required_tags: [owner, data-class]}}
exempt_principals: ["arn:aws:iam::123456789012:role/BreakGlass"]
"#;

/// Jobs: a VPC deny on CreateJob and UpdateJob (both take glue:VpcIds), a tag deny on CreateJob
/// only (UpdateJob carries no tags); an override that drops a requirement keeps its jobs
/// (NotResource) or its principals (ArnNotLike) out; one that adds a requirement stays with the
/// Lambda; the SCP also leaves out the exempt principals.
#[test]
fn job_denies_hold_what_the_job_boundaries_require_and_never_more() {
    let policy = policy(JOBS);
    let (denies, notes) = denies(&policy, Layer::ManagedPolicy);
    let vpc = denies
        .iter()
        .find(|deny| deny.sid == "DenyJobWithoutVpc")
        .unwrap();
    assert_eq!(
        vpc.statement["Action"],
        serde_json::json!(["glue:CreateJob", "glue:UpdateJob"])
    );
    assert_eq!(
        vpc.statement["NotResource"],
        serde_json::json!(["arn:*:glue:*:*:job/legacy-*"])
    );
    assert_eq!(
        conditions(vpc)["Null"],
        serde_json::json!({"glue:VpcIds": "true"})
    );
    assert!(conditions(vpc).get("ArnNotLike").is_none());

    let tag = denies
        .iter()
        .find(|deny| deny.sid == "DenyCreateJobWithoutTagOwner")
        .unwrap();
    assert_eq!(tag.statement["Action"], "glue:CreateJob");
    assert_eq!(tag.statement["Resource"], "*");
    assert_eq!(
        conditions(tag)["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::*:role/Ops"])
    );
    assert_eq!(tag.rule, "jobs required_tags `owner`");
    assert!(
        !denies.iter().any(|deny| deny.sid.contains("DataClass")),
        "strict adds a requirement the boundaries lack"
    );
    assert!(
        notes.iter().any(
            |note| note.contains("jobs.overrides[2] (`strict`)") && note.contains("data-class")
        ),
        "{notes:?}"
    );

    let (scp_denies, _) = super::denies(&policy, Layer::Scp);
    let vpc = scp_denies
        .iter()
        .find(|deny| deny.sid == "DenyJobWithoutVpc")
        .unwrap();
    assert_eq!(
        conditions(vpc)["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!(["arn:aws:iam::123456789012:role/BreakGlass"])
    );
}

/// Every profile's JobConfiguration holds the loosest of the job boundary sets: a profile goes
/// to a caller and cannot tell which job override applies.
#[test]
fn usage_profiles_hold_the_loosest_job_limits() {
    let policy = policy(JOBS);
    let profiles = usage_profiles(&policy);
    let configuration = profiles[0].configuration();
    assert_eq!(
        configuration["JobConfiguration"],
        serde_json::json!({
            "numberOfWorkers": {"MinValue": "1", "MaxValue": "200"},
            "workerType": {"AllowedValues": ["G.1X", "G.2X", "G.8X"]},
            "timeout": {"MinValue": "1", "MaxValue": "600"}
        })
    );
    assert!(configuration["SessionConfiguration"].is_object());
    let sessions_only = policy_without_jobs();
    assert!(
        usage_profiles(&sessions_only)[0]
            .configuration()
            .get("JobConfiguration")
            .is_none()
    );

    let rows = coverage(&policy);
    let row = |name: &str| {
        rows.iter()
            .find(|row| row.boundary == name)
            .unwrap_or_else(|| panic!("no row {name}: {rows:#?}"))
    };
    assert_eq!(row("jobs.max_workers").before_start, [USAGE_PROFILE]);
    assert!(row("jobs.max_workers").notes[0].contains("loosest"));
    assert_eq!(row("jobs.max_workers").values, "50; ops: 200");
    assert_eq!(
        row("jobs.require_vpc_connection").before_start,
        [IAM_POLICY, SCP]
    );
    assert_eq!(
        row("jobs.required_tags `owner`").before_start,
        [IAM_POLICY, SCP]
    );
    assert!(
        row("jobs.required_tags `data-class`")
            .before_start
            .is_empty()
    );
    assert!(
        rows.iter().all(|row| row.boundary != "jobs.max_dpu"),
        "a boundary the policy does not set has no row"
    );
}

fn policy_without_jobs() -> Policy {
    policy("version: 1\nstack: {name: guard}\nboundaries: {max_workers: 10}\n")
}

/// Whether `denies` refuse a `CreateSession` without a VPC connection by `role` (in account
/// 123456789012) at `now`: a reading of just the IAM condition operators these denies use
/// (Null, ArnLike, ArnNotLike, DateLessThan, DateGreaterThanEquals; IAM User Guide, "IAM JSON
/// policy elements: Condition operators"). An operator it does not know fails the test.
fn refuses_at(denies: &[Deny], role: &str, now: &str) -> bool {
    let principal = format!("arn:aws:iam::123456789012:role/{role}");
    let now = crate::time::parse_rfc3339(now).unwrap();
    let like =
        |patterns: &Value| {
            patterns.as_array().unwrap().iter().any(|p| {
                crate::glob::glob_match(p.as_str().unwrap().as_bytes(), principal.as_bytes())
            })
        };
    let time = |value: &Value| crate::time::parse_rfc3339(value.as_str().unwrap()).unwrap();
    denies.iter().any(|deny| {
        let statement = &deny.statement;
        if statement["Action"] != "glue:CreateSession" {
            return false;
        }
        statement["Condition"]
            .as_object()
            .unwrap()
            .iter()
            .all(|(operator, test)| match operator.as_str() {
                // The request names no VPC: `glue:VpcIds` is absent.
                "Null" => test.as_object().unwrap().values().all(|v| v == "true"),
                "ArnLike" => like(&test["aws:PrincipalArn"]),
                "ArnNotLike" => !like(&test["aws:PrincipalArn"]),
                "DateLessThan" => now < time(&test["aws:CurrentTime"]),
                "DateGreaterThanEquals" => now >= time(&test["aws:CurrentTime"]),
                other => panic!("unknown condition operator {other}"),
            })
    })
}

#[test]
fn exclusions_that_expire_are_taken_back_at_their_expiry_in_both_layers() {
    let policy = policy(
        r#"
version: 1
stack: {name: guard}
boundaries: {require_vpc_connection: true}
overrides:
  - {name: lab, principals: ['arn:aws:iam::*:role/Lab'], boundaries: {require_vpc_connection: false}, expires: '2027-01-31T00:00:00Z'}
  - {name: lab2, principals: ['arn:aws:iam::*:role/Lab'], boundaries: {require_vpc_connection: false}, expires: '2027-03-01T00:00:00Z'}
  - {name: tmp, principals: ['arn:aws:iam::*:role/Tmp'], boundaries: {require_vpc_connection: false}, expires: '2027-01-31T00:00:00Z'}
exempt_principals:
  - arn:aws:iam::*:role/Admin
  - {principal: 'arn:aws:iam::*:role/Oncall', expires: '2027-02-15T00:00:00Z'}
"#,
    );
    let event = |role: &str, at: &str| {
        serde_json::json!({
            "eventSource": "glue.amazonaws.com", "eventName": "CreateSession", "eventTime": at,
            "userIdentity": {"type": "AssumedRole",
                "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/x"),
                "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::123456789012:role/{role}")}}},
            "requestParameters": {"id": "s", "command": {"name": "glueetl"}},
            "responseElements": {"session": {"id": "s"}}
        })
    };
    let (managed, _) = denies(&policy, Layer::ManagedPolicy);
    let (scp, notes) = denies(&policy, Layer::Scp);
    assert!(notes.is_empty(), "{notes:?}");
    let cases = [
        // role, time, refused by the managed policy, refused by the SCP
        ("Lab", "2027-01-30T00:00:00Z", false, false),
        // `lab` expired; `lab2`, naming the same role, still holds.
        ("Lab", "2027-02-01T00:00:00Z", false, false),
        ("Lab", "2027-03-01T00:00:00Z", true, true),
        ("Tmp", "2027-01-30T23:59:59Z", false, false),
        ("Tmp", "2027-01-31T00:00:00Z", true, true),
        // Exempt principals: the managed policy is never attached to them; the SCP excludes.
        ("Oncall", "2027-02-14T00:00:00Z", true, false),
        ("Oncall", "2027-02-15T00:00:00Z", true, true),
        ("Admin", "2099-01-01T00:00:00Z", true, false),
        ("Other", "2027-01-01T00:00:00Z", true, true),
    ];
    for (role, at, in_managed, in_scp) in cases {
        assert_eq!(
            refuses_at(&managed, role, at),
            in_managed,
            "managed policy: {role} at {at}"
        );
        assert_eq!(refuses_at(&scp, role, at), in_scp, "SCP: {role} at {at}");
        // Never more than the Lambda: what the SCP refuses, the Lambda would stop.
        let verdict = crate::evaluate::evaluate_event(&policy, &event(role, at));
        if in_scp {
            assert_eq!(
                verdict.decision,
                crate::evaluate::Decision::Violation,
                "{role} at {at}: {verdict:?}"
            );
        } else {
            assert_ne!(
                verdict.decision,
                crate::evaluate::Decision::Violation,
                "{role} at {at}: {verdict:?}"
            );
        }
    }
    // The takings-back say their instant as IAM compares it.
    let sids: Vec<&str> = scp.iter().map(|deny| deny.sid.as_str()).collect();
    assert_eq!(
        sids,
        [
            "DenyCreateSessionWithoutVpc",
            "DenyCreateSessionWithoutVpcUntil1",
            "DenyCreateSessionWithoutVpcUntil2",
            "DenyCreateSessionWithoutVpcUntil3",
        ]
    );
    assert_eq!(
        conditions(&scp[1])["DateGreaterThanEquals"]["aws:CurrentTime"],
        "2027-01-31T00:00:00Z"
    );
}

#[test]
fn an_override_that_adds_a_requirement_denies_only_until_it_expires() {
    let policy = policy(
        r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
overrides:
  - {name: finance, principals: ['arn:aws:iam::*:role/Finance'], boundaries: {require_vpc_connection: true}, expires: '2027-01-31T00:00:00Z'}
"#,
    );
    let (managed, _) = denies(&policy, Layer::ManagedPolicy);
    assert!(refuses_at(&managed, "Finance", "2027-01-30T00:00:00Z"));
    assert!(!refuses_at(&managed, "Finance", "2027-01-31T00:00:00Z"));
    assert!(!refuses_at(&managed, "Other", "2027-01-30T00:00:00Z"));
}

#[test]
fn a_role_of_an_expired_override_is_assigned_the_profile_that_judges_it_now() {
    let policy = policy(
        r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
overrides:
  - {name: burst, principals: ['arn:aws:iam::123456789012:role/Burst'], boundaries: {max_workers: 50}, expires: '2027-01-31T00:00:00Z'}
usage_profiles:
  roles:
    - role: arn:aws:iam::123456789012:role/Burst
"#,
    );
    let at = |time: &str| {
        let now = crate::time::parse_rfc3339(time).unwrap();
        assignments(&policy, Some(now))[0].usage_profile.clone()
    };
    assert_eq!(
        at("2027-01-30T00:00:00Z").as_deref(),
        Some("guard-override-burst")
    );
    assert_eq!(at("2027-01-31T00:00:00Z").as_deref(), Some("guard-default"));
    // As written (coverage, validation): the override's.
    assert_eq!(assignments(&policy, None)[0].boundary_set, "burst");
}
