use serde_json::json;

use super::*;
use crate::evaluate::evaluate_event;
use crate::load_policy;

const POLICY: &str = r#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
notifications:
  emails: [platform@example.com]
  slack: [{workspace_id: T0123ABCD, channel_id: C0123ABCDEF}]
  routes:
    - name: analytics
      principals: ['arn:aws:iam::*:role/Analytics*']
      emails: [analytics-lead@example.com]
      teams: [{tenant_id: 11111111-2222-3333-4444-555555555555, team_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, channel_id: '19:abc@thread.tacv2'}]
    - name: finance
      tags: {team: finance}
      emails: [finance@example.com]
"#;

fn policy(text: &str) -> Policy {
    load_policy("p.yaml", text.as_bytes()).unwrap_or_else(|errors| panic!("{errors}"))
}

fn create_session(role: &str, tags: serde_json::Value) -> serde_json::Value {
    json!({
        "eventSource": "glue.amazonaws.com", "eventName": "CreateSession",
        "eventTime": "2027-01-01T00:00:00Z",
        "userIdentity": {"type": "AssumedRole",
            "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/x"),
            "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::123456789012:role/{role}")}}},
        "requestParameters": {"id": "s", "command": {"name": "glueetl"}, "numberOfWorkers": 50,
            "workerType": "G.1X", "tags": tags},
        "responseElements": {"session": {"id": "s"}}
    })
}

#[test]
fn a_session_is_routed_by_its_creator_or_its_tags() {
    let policy = policy(POLICY);
    let routes = |role: &str, tags| evaluate_event(&policy, &create_session(role, tags)).routes;
    assert_eq!(routes("AnalyticsEngineer", json!({})), ["analytics"]);
    assert_eq!(routes("Etl", json!({"team": "finance"})), ["finance"]);
    assert_eq!(
        routes("AnalyticsEngineer", json!({"team": "finance"})),
        ["analytics", "finance"]
    );
    assert!(routes("Etl", json!({"team": "marketing"})).is_empty());
}

#[test]
fn chat_audiences_follow_the_routes_and_the_default_list() {
    let mut policy = policy(POLICY);
    let analytics = vec!["analytics".to_string()];
    let finance = vec!["finance".to_string()];
    assert_eq!(
        chat_audiences(&policy, &analytics),
        ["default", "analytics"]
    );
    // finance has no chat channel: only the default list's.
    assert_eq!(chat_audiences(&policy, &finance), ["default"]);
    assert_eq!(all_chat_audiences(&policy), ["default", "analytics"]);
    assert_eq!(default_filter_policy(&policy), None);

    policy.notifications.as_mut().unwrap().default_receives = DefaultReceives::Unrouted;
    assert_eq!(chat_audiences(&policy, &analytics), ["analytics"]);
    assert!(chat_audiences(&policy, &finance).is_empty());
    assert_eq!(chat_audiences(&policy, &[]), ["default"]);
    assert!(!default_gets(&policy, &finance));
    assert_eq!(
        default_filter_policy(&policy),
        Some(json!({"routes": [{"exists": false}]}))
    );
    let route = &policy.notifications.as_ref().unwrap().routes[1];
    assert_eq!(route_filter_policy(route), json!({"routes": ["finance"]}));
}

#[test]
fn chat_topics_sit_beside_the_stacks_own_topic() {
    assert_eq!(
        chat_topic_arn(
            "arn:aws:sns:eu-west-1:123456789012:guard-NotificationTopic-AbC123",
            "guard",
            "analytics"
        )
        .as_deref(),
        Some("arn:aws:sns:eu-west-1:123456789012:guard-chat-analytics")
    );
    assert_eq!(chat_topic_arn("not-an-arn", "guard", "default"), None);
}

#[test]
fn routes_and_channels_are_validated_with_their_field() {
    let refused = load_policy(
        "p.yaml",
        br#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
notifications:
  slack: [{workspace_id: t0123, channel_id: 'C01 23'}]
  routes:
    - {name: default, emails: [a@example.com], principals: ['arn:aws:iam::*:role/A']}
    - {name: Bad_Name, tags: {team: x}}
    - {name: nobody, emails: [b@example.com]}
    - name: t
      tags: {team: y}
      teams: [{tenant_id: not-a-guid, team_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, channel_id: general}]
    - name: pasted
      tags: {team: z}
      slack: [{workspace_id: T0123ABCD, channel_id: 'https://acme.slack.com/archives/C0123ABCDEF'},
              {workspace_id: T0123ABCD, channel_id: 'https://app.slack.com/client/T0123ABCD/G0PRIVATE1'}]
      teams:
        - {tenant_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, team_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee,
           channel_id: 'https://teams.microsoft.com/l/channel/19%3a3f2a9c0d%40thread.tacv2/General?groupId=x'}
        - {tenant_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, team_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee,
           channel_id: '19:4f2a9c0d@thread.tacv2/General'}
        - {tenant_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, team_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee,
           channel_id: 'a:b@c'}
    - {name: untagged, tags: {}, emails: [c@example.com]}
"#,
    )
    .expect_err("refused")
    .to_string();
    for expected in [
        "notifications.slack[0].workspace_id: `t0123` is not a Slack workspace id",
        "notifications.slack[0].channel_id: `C01 23` is not a Slack channel id",
        "notifications.routes[0].name: `default` names the default list",
        "notifications.routes[1].name: `Bad_Name` is not a valid route name",
        "notifications.routes[1]: a route needs somewhere to send",
        "notifications.routes[2].principals: list principal ARN patterns",
        "notifications.routes[3].teams[0].tenant_id: `not-a-guid` is not a GUID",
        "notifications.routes[3].teams[0].channel_id: `general` is not a Microsoft Teams channel id",
        "notifications.routes[4].slack[0].channel_id: `https://acme.slack.com/archives/C0123ABCDEF` \
         is the channel's link, not its id: write `C0123ABCDEF`, the id at its end",
        "notifications.routes[4].slack[1].channel_id: `https://app.slack.com/client/T0123ABCD/G0PRIVATE1` \
         is the channel's link, not its id: write `G0PRIVATE1`, the id at its end",
        "notifications.routes[4].teams[0].channel_id: \
         `https://teams.microsoft.com/l/channel/19%3a3f2a9c0d%40thread.tacv2/General?groupId=x` holds \
         more than the channel id: write `19:3f2a9c0d@thread.tacv2`",
        "notifications.routes[4].teams[1].channel_id: `19:4f2a9c0d@thread.tacv2/General` holds \
         more than the channel id: write `19:4f2a9c0d@thread.tacv2`",
        "notifications.routes[4].teams[2].channel_id: `a:b@c` is not a Microsoft Teams channel id",
        "notifications.routes[5].tags: `tags` is empty: list principal ARN patterns",
    ] {
        assert!(refused.contains(expected), "{expected} in:\n{refused}");
    }
}

#[test]
fn a_chat_channel_takes_one_configuration_and_needs_a_partition_with_chat() {
    let refused = load_policy(
        "p.yaml",
        br#"
version: 1
stack: {name: guard, region: cn-north-1}
boundaries: {max_workers: 10}
notifications:
  slack: [{workspace_id: T0123ABCD, channel_id: C0123ABCDEF}]
  routes:
    - {name: a, tags: {team: a}, slack: [{workspace_id: T0123ABCD, channel_id: C0123ABCDEF}]}
"#,
    )
    .expect_err("refused")
    .to_string();
    assert!(
        refused.contains(
            "notifications.routes[0].slack[0]: this Slack channel is listed twice (also \
             notifications.slack[0];"
        ),
        "{refused}"
    );
    assert!(
        refused.contains("the partition of cn-north-1 does not have"),
        "{refused}"
    );
    // A Teams channel is one channel whether written as its link gives it or URL-encoded as
    // the resource takes it.
    let refused = load_policy(
        "p.yaml",
        br#"
version: 1
stack: {name: guard}
boundaries: {max_workers: 10}
notifications:
  teams: [{tenant_id: 11111111-2222-3333-4444-555555555555, team_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, channel_id: '19%3Aabc%40thread.tacv2'}]
  routes:
    - {name: a, tags: {team: a}, teams: [{tenant_id: 11111111-2222-3333-4444-555555555555, team_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, channel_id: '19:abc@thread.tacv2'}]}
"#,
    )
    .expect_err("refused")
    .to_string();
    assert!(
        refused.contains(
            "notifications.routes[0].teams[0]: this Microsoft Teams channel is listed twice \
             (also notifications.teams[0];"
        ),
        "{refused}"
    );
}
