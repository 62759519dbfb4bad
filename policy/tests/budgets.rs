//! Team budgets: who is a member, the sum, the creation order every invocation computes alike,
//! the violation a notification carries, and the `budgets` section's validation.

use std::collections::BTreeMap;

use policy::budgets::{self, Holder, HolderKind, Membership, Standing};
use policy::{Action, Decision, Policy, Principal, evaluate_event, load_policy};
use serde_json::json;

const POLICY: &str = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 50}
exempt_principals: ["arn:aws:iam::123456789012:user/breakglass"]
exempt_session_ids: ["glue-studio-datapreview-*"]
budgets:
  - name: analytics
    members:
      principals: ["arn:aws:iam::*:role/Analytics*"]
      tags: {team: analytics}
    max_concurrent_dpu: 100
    warn_at_percent: 80
"#;

fn policy_text(text: &str) -> Policy {
    load_policy("test.yaml", text.as_bytes()).unwrap()
}

fn policy() -> Policy {
    policy_text(POLICY)
}

fn audit() -> Policy {
    policy_text(&POLICY.replace(
        "boundaries: {max_workers: 50}",
        "enforcement: {mode: audit}\nboundaries: {max_workers: 50}",
    ))
}

fn analyst(name: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:sts::123456789012:assumed-role/AnalyticsTeam/{name}"),
        issuer_arn: Some("arn:aws:iam::123456789012:role/AnalyticsTeam".to_string()),
        source_identity: None,
        on_behalf_of: None,
    }
}

fn session(id: &str, created_at_ms: i64, dpu: f64) -> Holder {
    Holder {
        kind: HolderKind::Session,
        id: id.to_string(),
        created_at_ms,
        dpu: Some(dpu),
        principal: Some(analyst("alice")),
        tags: Some(BTreeMap::new()),
        stopped_by_policy: false,
    }
}

fn standings(policy: &Policy, holders: &[Holder]) -> Vec<(String, Standing)> {
    let usage = budgets::tally(&policy.budgets[0], policy, holders);
    usage
        .members
        .iter()
        .map(|member| (member.holder.id.clone(), member.standing))
        .collect()
}

#[test]
fn members_are_admitted_in_creation_order_while_the_sum_fits() {
    let policy = policy();
    let holders = [
        session("c", 3_000, 40.0),
        session("a", 1_000, 40.0),
        session("b", 2_000, 20.0),
        session("d", 4_000, 0.0625),
    ];
    let usage = budgets::tally(&policy.budgets[0], &policy, &holders);
    let order: Vec<_> = usage
        .members
        .iter()
        .map(|m| (m.holder.id.as_str(), m.standing, m.with_it_dpu))
        .collect();
    assert_eq!(
        order,
        [
            ("a", Standing::Within, 40.0),
            ("b", Standing::Within, 60.0),
            ("c", Standing::Within, 100.0),
            ("d", Standing::Over, 100.0625),
        ]
    );
    assert_eq!(usage.in_use_dpu, 100.0);
    assert_eq!(usage.percent(), 100.0);
}

#[test]
fn fractional_dpus_that_add_up_to_the_cap_fit() {
    let policy = policy();
    // 8 x 12.5 and 1600 x 0.0625: exactly 100, whatever rounding the sum picks up on the way.
    let mut holders: Vec<Holder> = (0..8).map(|i| session(&format!("s{i}"), i, 12.5)).collect();
    assert!(
        standings(&policy, &holders)
            .iter()
            .all(|(_, s)| *s == Standing::Within)
    );
    holders = (0..1600)
        .map(|i| session(&format!("t{i:04}"), i, 0.0625))
        .collect();
    assert!(
        standings(&policy, &holders)
            .iter()
            .all(|(_, s)| *s == Standing::Within)
    );
    holders.push(session("late", 10_000, 0.0625));
    assert_eq!(
        standings(&policy, &holders).last().unwrap(),
        &("late".to_string(), Standing::Over)
    );
}

#[test]
fn a_member_over_the_cap_holds_nothing_so_a_smaller_later_one_fits() {
    // Only the 50-DPU session has to go: without it, the 30-DPU one fits (60 + 30).
    let holders = [
        session("first", 1, 60.0),
        session("big", 2, 50.0),
        session("small", 3, 30.0),
    ];
    assert_eq!(
        standings(&policy(), &holders),
        [
            ("first".to_string(), Standing::Within),
            ("big".to_string(), Standing::Over),
            ("small".to_string(), Standing::Within),
        ]
    );
    // In audit mode nothing is stopped: the 50 runs on and counts, so the 30 is over too.
    let audit = audit();
    assert_eq!(
        standings(&audit, &holders),
        [
            ("first".to_string(), Standing::Within),
            ("big".to_string(), Standing::Over),
            ("small".to_string(), Standing::Over),
        ]
    );
    assert_eq!(
        budgets::tally(&audit.budgets[0], &audit, &holders).in_use_dpu,
        140.0
    );
}

#[test]
fn a_member_its_own_verdict_stops_holds_nothing_in_enforce_mode_only() {
    let mut oversized = session("oversized", 1, 90.0);
    oversized.stopped_by_policy = true;
    let holders = [oversized, session("fits", 2, 50.0)];
    assert_eq!(
        standings(&policy(), &holders),
        [
            ("oversized".to_string(), Standing::Stopping),
            ("fits".to_string(), Standing::Within),
        ]
    );
    assert_eq!(
        standings(&audit(), &holders)[1],
        ("fits".to_string(), Standing::Over)
    );
}

/// Every order of the same holders gives every member the same standing: what makes two
/// invocations that list the same sessions agree on which one goes.
#[test]
fn the_standings_do_not_depend_on_the_order_holders_are_listed_in() {
    let policy = policy();
    // Ten sessions, several created in the same millisecond (ties broken by id).
    let mut holders: Vec<Holder> = (0..10)
        .map(|i| {
            session(
                &format!("nb-{}", 9 - i),
                (i / 3) as i64,
                10.0 + (i * 7 % 5) as f64 * 5.0,
            )
        })
        .collect();
    let expected = standings(&policy, &holders);
    assert_eq!(
        expected
            .iter()
            .filter(|(_, s)| *s == Standing::Over)
            .count(),
        5,
        "{expected:?}"
    );
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200 {
        // Fisher-Yates with a fixed xorshift: reproducible permutations.
        for i in (1..holders.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            holders.swap(i, (state % (i as u64 + 1)) as usize);
        }
        assert_eq!(standings(&policy, &holders), expected);
    }
}

/// The concurrent case: each of `n` sessions created at once is judged by its own invocation,
/// which lists them all (in the order Glue happens to return). Exactly those that do not fit
/// are stopped, each by its own invocation, and every invocation agrees.
#[test]
fn sessions_created_at_once_are_stopped_exactly_as_far_as_the_cap_requires() {
    let policy = policy();
    for (n, dpu, expect_stopped) in [(2, 60.0, 1), (10, 20.0, 5), (10, 10.0, 0)] {
        let holders: Vec<Holder> = (0..n)
            .map(|i| session(&format!("nb-{i:02}"), 1_700_000_000_000, dpu))
            .collect();
        let mut stopped = Vec::new();
        for me in 0..n {
            // This invocation's listing: the same sessions, rotated.
            let mut listing = holders.clone();
            listing.rotate_left(me);
            let usage = budgets::tally(&policy.budgets[0], &policy, &listing);
            let id = format!("nb-{me:02}");
            if budgets::violation(&usage, HolderKind::Session, &id).is_some() {
                stopped.push(id);
            }
        }
        assert_eq!(stopped.len(), expect_stopped, "{n} x {dpu}: {stopped:?}");
        let kept = (n - stopped.len()) as f64 * dpu;
        assert!(kept <= 100.0, "{n} x {dpu}: {kept} DPUs kept");
        assert!(
            kept + dpu > 100.0 || stopped.is_empty(),
            "{n} x {dpu}: one more could have stayed"
        );
    }
}

/// A listing that misses the newest sessions (Glue's list is eventually consistent) can only
/// let the candidate pass, never stop one that fits: the ones it misses are created after it.
#[test]
fn a_listing_that_misses_newer_sessions_never_stops_the_candidate_wrongly() {
    let policy = policy();
    let holders: Vec<Holder> = (0..10)
        .map(|i| session(&format!("nb-{i}"), i as i64, 25.0))
        .collect();
    let full = standings(&policy, &holders);
    for me in 0..holders.len() {
        for seen_after in 0..holders.len() - me {
            let listing = &holders[..=me + seen_after];
            let usage = budgets::tally(&policy.budgets[0], &policy, listing);
            let id = format!("nb-{me}");
            assert_eq!(
                usage.member(HolderKind::Session, &id).unwrap().standing,
                full[me].1,
                "nb-{me} seeing {} newer",
                seen_after
            );
        }
    }
}

#[test]
fn membership_by_principal_or_every_tag_and_never_for_the_exempt() {
    let policy = policy();
    let budget = &policy.budgets[0];
    let mut holder = session("nb", 1, 10.0);
    assert_eq!(
        budgets::membership(budget, &policy, &holder),
        Membership::Member
    );

    holder.principal = Some(Principal {
        arn: "arn:aws:iam::123456789012:user/carol".to_string(),
        issuer_arn: None,
        source_identity: None,
        on_behalf_of: None,
    });
    assert_eq!(
        budgets::membership(budget, &policy, &holder),
        Membership::NotMember
    );
    holder.tags = Some(BTreeMap::from([("team".into(), "analytics".into())]));
    assert_eq!(
        budgets::membership(budget, &policy, &holder),
        Membership::Member
    );
    holder.tags = Some(BTreeMap::from([("team".into(), "Analytics".into())]));
    assert_eq!(
        budgets::membership(budget, &policy, &holder),
        Membership::NotMember,
        "tag values match exactly, as Glue stores them"
    );
    holder.tags = None;
    assert_eq!(
        budgets::membership(budget, &policy, &holder),
        Membership::Unknown,
        "tags not read: a member by tags cannot be ruled out"
    );

    holder.principal = None;
    holder.tags = Some(BTreeMap::new());
    assert_eq!(
        budgets::membership(budget, &policy, &holder),
        Membership::Unknown,
        "creator unknown: a member by principal cannot be ruled out"
    );
    holder.tags = Some(BTreeMap::from([("team".into(), "analytics".into())]));
    assert_eq!(
        budgets::membership(budget, &policy, &holder),
        Membership::Unknown,
        "tagged, but by a creator not known yet who may be exempt (breakglass)"
    );
    let mut without_exemptions = policy.clone();
    without_exemptions.exempt_principals.clear();
    assert_eq!(
        budgets::membership(&without_exemptions.budgets[0], &without_exemptions, &holder),
        Membership::Member,
        "tagged, and nobody is exempt"
    );

    let mut breakglass = session("nb", 1, 10.0);
    breakglass.principal = Some(Principal {
        arn: "arn:aws:iam::123456789012:user/breakglass".to_string(),
        issuer_arn: None,
        source_identity: None,
        on_behalf_of: None,
    });
    breakglass.tags = Some(BTreeMap::from([("team".into(), "analytics".into())]));
    assert_eq!(
        budgets::membership(budget, &policy, &breakglass),
        Membership::NotMember
    );
    let preview = session("glue-studio-datapreview-123", 1, 10.0);
    assert_eq!(
        budgets::membership(budget, &policy, &preview),
        Membership::NotMember
    );

    let unknown = [
        session("a", 1, 60.0),
        Holder {
            principal: None,
            ..session("b", 2, 60.0)
        },
    ];
    let usage = budgets::tally(budget, &policy, &unknown);
    assert_eq!(usage.members.len(), 1);
    assert_eq!(usage.unknown.len(), 1, "said, not counted");
    assert_eq!(usage.in_use_dpu, 60.0);
}

#[test]
fn a_budget_covers_job_runs_when_the_policy_guards_jobs_or_it_says_so() {
    let without_jobs = policy();
    let run = Holder {
        kind: HolderKind::JobRun,
        ..session("nightly/jr_1", 1, 10.0)
    };
    assert_eq!(
        budgets::membership(&without_jobs.budgets[0], &without_jobs, &run),
        Membership::NotMember
    );
    let with_jobs = policy_text(&format!(
        "{POLICY}jobs: {{boundaries: {{max_workers: 10}}}}\n"
    ));
    assert_eq!(
        budgets::membership(&with_jobs.budgets[0], &with_jobs, &run),
        Membership::Member
    );
    let sessions_only = policy_text(&format!(
        "{}jobs: {{boundaries: {{max_workers: 10}}}}\n",
        POLICY.replace(
            "warn_at_percent: 80",
            "warn_at_percent: 80\n    covers: [sessions]"
        )
    ));
    assert_eq!(
        budgets::membership(&sessions_only.budgets[0], &sessions_only, &run),
        Membership::NotMember
    );
    // Sessions and runs share one order: a run started before a session holds first.
    let mixed = [
        session("nb", 2, 60.0),
        Holder {
            created_at_ms: 1,
            ..run
        },
    ];
    let usage = budgets::tally(&with_jobs.budgets[0], &with_jobs, &mixed);
    assert_eq!(usage.members[0].holder.kind, HolderKind::JobRun);
    assert_eq!(usage.members[1].standing, Standing::Within);
}

#[test]
fn the_violation_names_the_budget_the_total_and_the_largest_holders_with_their_owners() {
    let policy = policy();
    let mut bob = session("nb-bob", 1, 60.0);
    bob.principal = Some(analyst("bob"));
    let holders = [
        bob,
        session("nb-carol", 2, 30.0),
        session("nb-new", 3, 20.0),
    ];
    let usage = budgets::tally(&policy.budgets[0], &policy, &holders);
    let violation = budgets::violation(&usage, HolderKind::Session, "nb-new").unwrap();
    assert_eq!(violation.rule, "max_concurrent_dpu");
    assert_eq!(violation.actual, json!(110.0));
    assert_eq!(violation.limit, json!(100.0));
    assert_eq!(
        violation.message,
        "budget \"analytics\": 110 DPUs at once with this session (20 DPUs), more than its \
         max_concurrent_dpu 100; largest holders: session nb-bob (60 DPUs, \
         arn:aws:sts::123456789012:assumed-role/AnalyticsTeam/bob), session nb-carol (30 DPUs, \
         arn:aws:sts::123456789012:assumed-role/AnalyticsTeam/alice)"
    );
    assert!(budgets::violation(&usage, HolderKind::Session, "nb-bob").is_none());
    assert!(budgets::violation(&usage, HolderKind::Session, "nobody").is_none());
}

fn create_session(id: &str, workers: u64, worker_type: &str) -> serde_json::Value {
    json!({
        "eventVersion": "1.09",
        "eventSource": "glue.amazonaws.com",
        "eventName": "CreateSession",
        "eventTime": "2026-12-01T10:00:00Z",
        "awsRegion": "eu-west-1",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/AnalyticsTeam/alice",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/AnalyticsTeam"}}
        },
        "requestParameters": {
            "id": id,
            "role": "arn:aws:iam::123456789012:role/GlueRole",
            "command": {"name": "glueetl", "pythonVersion": "3"},
            "numberOfWorkers": workers,
            "workerType": worker_type,
            "glueVersion": "5.0"
        },
        "responseElements": {"session": {"id": id, "status": "PROVISIONING"}}
    })
}

#[test]
fn a_verdict_carries_the_dpus_a_budget_counts_and_apply_turns_it_into_a_stop() {
    let policy = policy();
    let verdict = evaluate_event(&policy, &create_session("nb-new", 10, "G.2X"));
    assert_eq!(verdict.decision, Decision::Compliant);
    assert_eq!(verdict.dpu, Some(20.0));
    let graviton = evaluate_event(&policy, &create_session("nb-g", 6, "G.2X.GRAVITON"));
    assert_eq!(graviton.dpu, Some(12.0), "derived from the name");
    let unknown = evaluate_event(&policy, &create_session("nb-x", 6, "Q.7Z"));
    assert_eq!(unknown.dpu, None);

    let holders = [
        session("nb-old", 1, 90.0),
        Holder::from_verdict(
            HolderKind::Session,
            "nb-new".to_string(),
            2,
            &verdict,
            Some(analyst("alice")),
            Some(BTreeMap::new()),
        ),
    ];
    let usages = budgets::tally_all(&policy, &holders);
    let mut stopped = verdict.clone();
    budgets::apply(
        &policy,
        &mut stopped,
        &usages,
        HolderKind::Session,
        "nb-new",
    );
    assert_eq!(stopped.decision, Decision::Violation);
    assert_eq!(stopped.action, Action::Stop);
    assert_eq!(stopped.rules(), ["max_concurrent_dpu"]);

    let audit = audit();
    let usages = budgets::tally_all(&audit, &holders);
    let mut notified = verdict.clone();
    budgets::apply(
        &audit,
        &mut notified,
        &usages,
        HolderKind::Session,
        "nb-new",
    );
    assert_eq!(notified.action, Action::Notify);

    let mut untouched = verdict;
    budgets::apply(
        &policy,
        &mut untouched,
        &usages,
        HolderKind::Session,
        "nb-old",
    );
    assert_eq!(untouched.decision, Decision::Compliant);
}

fn errors(text: &str) -> Vec<String> {
    match load_policy("p.yaml", text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_budgets_section_is_validated_at_its_file_line_and_column() {
    let text = r#"version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
budgets:
  - name: "analytics team"
    members: {}
    max_concurrent_dpu: 0
    covers: [sessions, jobs, sessions]
    warn_at_percent: 0
  - name: ok
    members: {principals: ["not-an-arn"], tags: {"aws:team": x}}
    max_concurrent_dpu: 10
  - name: ok
    members: {tags: {team: analytics}}
    max_concurrent_dpu: 10
"#;
    let found = errors(text);
    let expect = [
        "p.yaml:5:5: budgets[0].name: `analytics team` is not a valid budget name",
        "p.yaml:6:5: budgets[0].members: list at least one principal ARN pattern",
        "p.yaml:7:5: budgets[0].max_concurrent_dpu: must be a number of DPUs above 0, got 0",
        "p.yaml:8:24: budgets[0].covers[1]: the policy does not guard jobs",
        "p.yaml:8:30: budgets[0].covers[2]: listed twice",
        "p.yaml:9:5: budgets[0].warn_at_percent: must be between 1 and 100, got 0",
        "p.yaml:11:28: budgets[1].members.principals[0]: `not-an-arn`: not an ARN pattern",
        "p.yaml:11:50: budgets[1].members.tags.aws:team: tag keys starting with `aws:` are reserved",
        "p.yaml:13:5: budgets[2].name: budget name `ok` is used twice",
    ];
    for expected in expect {
        assert!(
            found.iter().any(|e| e.contains(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    assert!(errors(POLICY).is_empty());
}

/// Budgets that share a member are decided together: Q (X alone, 50), then P (X and Y, 60),
/// then R (Y alone, 50), each cap 100. P takes X over and is stopped, so it holds nothing in Y
/// either, and R fits there. Decided budget by budget, R would be stopped too, for DPUs P no
/// longer holds. In audit mode nothing is stopped: P counts in Y and R is over.
#[test]
fn a_member_stopped_for_one_budget_holds_nothing_in_its_others() {
    let text = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 50}
budgets:
  - {name: x, members: {tags: {x: "1"}}, max_concurrent_dpu: 100}
  - {name: y, members: {tags: {y: "1"}}, max_concurrent_dpu: 100}
"#;
    let tagged = |id: &str, at: i64, dpu: f64, tags: &[&str]| Holder {
        tags: Some(
            tags.iter()
                .map(|t| (t.to_string(), "1".to_string()))
                .collect(),
        ),
        ..session(id, at, dpu)
    };
    let holders = [
        tagged("q", 1_000, 50.0, &["x"]),
        tagged("p", 2_000, 60.0, &["x", "y"]),
        tagged("r", 3_000, 50.0, &["y"]),
    ];
    let standing = |usages: &[budgets::BudgetUse<'_, '_>], budget: usize, id: &str| {
        usages[budget]
            .member(HolderKind::Session, id)
            .map(|member| member.standing)
    };

    let enforce = policy_text(text);
    let usages = budgets::tally_all(&enforce, &holders);
    assert_eq!(standing(&usages, 0, "p"), Some(Standing::Over));
    assert_eq!(standing(&usages, 1, "p"), Some(Standing::Stopping));
    assert_eq!(standing(&usages, 1, "r"), Some(Standing::Within));
    assert_eq!((usages[0].in_use_dpu, usages[1].in_use_dpu), (50.0, 50.0));
    let over: Vec<&str> = ["q", "p", "r"]
        .into_iter()
        .filter(|id| {
            usages
                .iter()
                .any(|usage| budgets::violation(usage, HolderKind::Session, id).is_some())
        })
        .collect();
    assert_eq!(over, ["p"], "only p is stopped");

    let audit = policy_text(&text.replace(
        "boundaries: {max_workers: 50}",
        "enforcement: {mode: audit}\nboundaries: {max_workers: 50}",
    ));
    let usages = budgets::tally_all(&audit, &holders);
    assert_eq!(standing(&usages, 1, "p"), Some(Standing::Within));
    assert_eq!(standing(&usages, 1, "r"), Some(Standing::Over));
}
