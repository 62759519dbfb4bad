//! CloudWatch embedded-metric-format (EMF) lines: sessions inspected, violations by rule,
//! sessions stopped, notifications sent (to the own topic, and separately to the central topic
//! when there is one), and, when the policy guards jobs, job runs inspected and stopped, job
//! definitions inspected and the jobs a sweep could not reach, and the DPUs each team budget's
//! members hold when it was tallied. Counted during one invocation, printed at its end as JSON
//! lines on stdout,
//! which CloudWatch Logs turns into metrics without any API call.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "GlueSessionGuard";

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub sessions_inspected: u64,
    pub sessions_stopped: u64,
    /// Published to the own topic (`NotificationsSent`).
    pub notifications_sent: u64,
    /// Published to the central topic (`CentralNotificationsSent`); `None` when the guard has no
    /// central topic, and then the metric is left out (no series that is always zero).
    pub central_notifications_sent: Option<u64>,
    pub violations_by_rule: BTreeMap<String, u64>,
    /// The job counters (`JobRunsInspected`, `JobRunsStopped`, `JobDefinitionsInspected`,
    /// `JobsNotSwept`); `None` when the policy does not guard jobs (no series that is always
    /// zero).
    pub jobs: Option<JobCounts>,
    /// DPUs each budget's members held when this invocation last tallied it
    /// (`BudgetDpuInUse`, dimensions `StackName`, `Budget`; unit `None`, DPUs).
    pub budget_dpu_in_use: BTreeMap<String, f64>,
}

/// What one invocation did with jobs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobCounts {
    pub runs_inspected: u64,
    pub runs_stopped: u64,
    pub definitions_inspected: u64,
    /// Jobs whose runs the sweep could not list in this invocation (its bound or its deadline):
    /// a later sweep reaches them.
    pub not_swept: u64,
}

/// The counters of one invocation. Shared by reference; safe to use from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    /// The counters of an invocation of a guard with a central topic: they include
    /// `CentralNotificationsSent`, zero or not. ([`Metrics::default`] is for a guard without.)
    pub fn with_central_topic() -> Metrics {
        Metrics {
            counts: Mutex::new(Counts {
                central_notifications_sent: Some(0),
                ..Counts::default()
            }),
        }
    }

    /// These counters with the job counters, zero or not (the policy guards jobs).
    pub fn guarding_jobs(self) -> Metrics {
        self.update(|counts| counts.jobs = Some(JobCounts::default()));
        self
    }

    fn update_jobs(&self, change: impl FnOnce(&mut JobCounts)) {
        self.update(|counts| change(counts.jobs.get_or_insert_with(JobCounts::default)));
    }

    /// One job run (`run`) or job definition was judged; `violated_rules` as for sessions.
    pub fn job_inspected<'r>(&self, run: bool, violated_rules: impl IntoIterator<Item = &'r str>) {
        self.update_jobs(|jobs| {
            if run {
                jobs.runs_inspected += 1;
            } else {
                jobs.definitions_inspected += 1;
            }
        });
        self.update(|counts| {
            for rule in violated_rules {
                *counts
                    .violations_by_rule
                    .entry(rule.to_string())
                    .or_default() += 1;
            }
        });
    }

    /// A verdict got a budget's violation after `inspected` counted it: `max_concurrent_dpu`
    /// counted among the violations by rule.
    pub fn budget_breached(&self) {
        self.update(|counts| {
            *counts
                .violations_by_rule
                .entry(policy::budgets::RULE.to_string())
                .or_default() += 1;
        });
    }

    /// `budget`'s members hold `dpu` DPUs (the last tally of the invocation wins).
    pub fn budget_in_use(&self, budget: &str, dpu: f64) {
        self.update(|counts| {
            counts.budget_dpu_in_use.insert(budget.to_string(), dpu);
        });
    }

    /// One job run was stopped (`BatchStopJobRun` accepted).
    pub fn job_run_stopped(&self) {
        self.update_jobs(|jobs| jobs.runs_stopped += 1);
    }

    /// `count` jobs were left to a later sweep.
    pub fn jobs_not_swept(&self, count: u64) {
        self.update_jobs(|jobs| jobs.not_swept += count);
    }

    fn update(&self, change: impl FnOnce(&mut Counts)) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut counts);
    }

    /// One session was judged; `violated_rules` are the rules of a `violation` verdict.
    pub fn inspected<'r>(&self, violated_rules: impl IntoIterator<Item = &'r str>) {
        self.update(|counts| {
            counts.sessions_inspected += 1;
            for rule in violated_rules {
                *counts
                    .violations_by_rule
                    .entry(rule.to_string())
                    .or_default() += 1;
            }
        });
    }

    pub fn stopped(&self) {
        self.update(|counts| counts.sessions_stopped += 1);
    }

    /// One notification was published to the own topic.
    pub fn notified(&self) {
        self.update(|counts| counts.notifications_sent += 1);
    }

    /// One notification was published to the central topic.
    pub fn central_notified(&self) {
        self.update(|counts| *counts.central_notifications_sent.get_or_insert(0) += 1);
    }

    pub fn counts(&self) -> Counts {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Prints the EMF lines on stdout (not through `tracing`: EMF must be the whole line).
    pub fn emit(&self, stack_name: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        for line in emf_lines(&self.counts(), stack_name, now) {
            println!("{line}");
        }
    }
}

/// The EMF documents for `counts`: one with the session counters (dimension `StackName`;
/// `CentralNotificationsSent` only when counted), and one per broken rule with `Violations`
/// (dimensions `StackName`, `Rule`).
pub fn emf_lines(counts: &Counts, stack_name: &str, timestamp_ms: u64) -> Vec<String> {
    let document = |dimensions: Value, metrics: Value, values: Value| {
        let mut doc = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimensions],
                    "Metrics": metrics,
                }],
            },
            "StackName": stack_name,
        });
        if let (Some(doc), Value::Object(values)) = (doc.as_object_mut(), values) {
            doc.extend(values);
        }
        doc.to_string()
    };
    let count = |name: &str| json!({"Name": name, "Unit": "Count"});
    let mut names = vec![
        count("SessionsInspected"),
        count("SessionsStopped"),
        count("NotificationsSent"),
    ];
    let mut values = json!({
        "SessionsInspected": counts.sessions_inspected,
        "SessionsStopped": counts.sessions_stopped,
        "NotificationsSent": counts.notifications_sent,
    });
    if let Some(central) = counts.central_notifications_sent {
        names.push(count("CentralNotificationsSent"));
        values["CentralNotificationsSent"] = json!(central);
    }
    if let Some(jobs) = &counts.jobs {
        for (name, value) in [
            ("JobRunsInspected", jobs.runs_inspected),
            ("JobRunsStopped", jobs.runs_stopped),
            ("JobDefinitionsInspected", jobs.definitions_inspected),
            ("JobsNotSwept", jobs.not_swept),
        ] {
            names.push(count(name));
            values[name] = json!(value);
        }
    }
    let mut lines = vec![document(json!(["StackName"]), json!(names), values)];
    for (rule, violations) in &counts.violations_by_rule {
        lines.push(document(
            json!(["StackName", "Rule"]),
            json!([count("Violations")]),
            json!({"Rule": rule, "Violations": violations}),
        ));
    }
    for (budget, dpu) in &counts.budget_dpu_in_use {
        lines.push(document(
            json!(["StackName", "Budget"]),
            json!([{"Name": "BudgetDpuInUse", "Unit": "None"}]),
            json!({"Budget": budget, "BudgetDpuInUse": dpu}),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_violations_by_rule_become_emf_documents() {
        let metrics = Metrics::default();
        metrics.inspected(["max_workers", "max_dpu"]);
        metrics.inspected(["max_workers"]);
        metrics.inspected([]);
        metrics.stopped();
        metrics.notified();
        let lines = emf_lines(&metrics.counts(), "gsg", 1_700_000_000_000);
        assert_eq!(lines.len(), 3);
        let main: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(main["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(main["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            main["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["StackName"]])
        );
        assert_eq!(main["StackName"], "gsg");
        assert_eq!(main["SessionsInspected"], 3);
        assert_eq!(main["SessionsStopped"], 1);
        assert_eq!(main["NotificationsSent"], 1);
        assert_eq!(
            main.get("CentralNotificationsSent"),
            None,
            "no central topic"
        );
        assert_eq!(
            main["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        let dpu: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(dpu["Rule"], "max_dpu");
        assert_eq!(dpu["Violations"], 1);
        assert_eq!(
            dpu["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["StackName", "Rule"]])
        );
        let workers: Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(
            (workers["Rule"].as_str(), workers["Violations"].as_u64()),
            (Some("max_workers"), Some(2))
        );
    }

    #[test]
    fn each_budget_tallied_gets_its_dpus_in_use_under_its_own_dimension() {
        let metrics = Metrics::default();
        metrics.budget_in_use("analytics", 40.0);
        metrics.budget_in_use("analytics", 60.5);
        metrics.budget_in_use("ml", 0.0);
        metrics.budget_breached();
        let lines = emf_lines(&metrics.counts(), "gsg", 0);
        let budgets: Vec<Value> = lines
            .iter()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|doc| doc.get("Budget").is_some())
            .collect();
        assert_eq!(budgets.len(), 2);
        assert_eq!(
            budgets[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["StackName", "Budget"]])
        );
        assert_eq!(
            (
                budgets[0]["Budget"].as_str(),
                budgets[0]["BudgetDpuInUse"].as_f64()
            ),
            (Some("analytics"), Some(60.5)),
            "the last tally wins"
        );
        assert_eq!(budgets[1]["BudgetDpuInUse"], 0.0, "zero, not missing");
        assert!(
            lines
                .iter()
                .any(|line| line.contains(r#""Rule":"max_concurrent_dpu""#))
        );
    }

    #[test]
    fn job_counters_are_emitted_only_when_the_policy_guards_jobs() {
        let sessions_only = emf_lines(&Metrics::default().counts(), "gsg", 0);
        let main: Value = serde_json::from_str(&sessions_only[0]).unwrap();
        assert_eq!(main.get("JobRunsInspected"), None);

        let metrics = Metrics::default().guarding_jobs();
        let idle: Value = serde_json::from_str(&emf_lines(&metrics.counts(), "gsg", 0)[0]).unwrap();
        assert_eq!(idle["JobsNotSwept"], 0, "zero, not missing");
        metrics.job_inspected(true, ["max_workers"]);
        metrics.job_inspected(false, []);
        metrics.job_run_stopped();
        metrics.jobs_not_swept(3);
        let lines = emf_lines(&metrics.counts(), "gsg", 0);
        let main: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            (
                &main["JobRunsInspected"],
                &main["JobRunsStopped"],
                &main["JobDefinitionsInspected"],
                &main["JobsNotSwept"],
                &main["SessionsInspected"]
            ),
            (&json!(1), &json!(1), &json!(1), &json!(3), &json!(0))
        );
        let rule: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(
            (&rule["Rule"], &rule["Violations"]),
            (&json!("max_workers"), &json!(1))
        );
    }

    #[test]
    fn central_notifications_are_counted_apart_when_there_is_a_central_topic() {
        let metrics = Metrics::with_central_topic();
        let idle = emf_lines(&metrics.counts(), "gsg", 0);
        let idle: Value = serde_json::from_str(&idle[0]).unwrap();
        assert_eq!(idle["CentralNotificationsSent"], 0, "zero, not missing");

        metrics.notified();
        metrics.central_notified();
        metrics.central_notified();
        let lines = emf_lines(&metrics.counts(), "gsg", 0);
        let main: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(main["NotificationsSent"], 1, "the own topic only");
        assert_eq!(main["CentralNotificationsSent"], 2);
        assert_eq!(
            main["_aws"]["CloudWatchMetrics"][0]["Metrics"][3],
            json!({"Name": "CentralNotificationsSent", "Unit": "Count"})
        );
    }
}
