//! A verdict as a backtest keeps it ([`Judgement`]), and the texts its sessions and job runs
//! share ([`Names`]), held once per unit read. Below every other part of the backtest: it reads
//! only `policy`.

use std::sync::Arc;

use foldhash::HashSet;
use policy::{Decision, Verdict};
use serde::{Deserialize, Serialize};

/// A text many sessions share (a principal, an account, a Region, a rule, why a figure is not
/// known): held once per unit read ([`Names`]), however many of its sessions name it. A long
/// history keeps every session until the report, so what they share is not repeated.
pub type Name = Arc<str>;

/// The broken boundary keys of one verdict, in its order; shared as [`Name`]s are.
pub type Rules = Arc<[Name]>;

/// The names, rule lists and judgements of one unit read, each held once.
#[derive(Debug, Default)]
pub struct Names {
    names: HashSet<Name>,
    rules: HashSet<Rules>,
    judgements: HashSet<Arc<Judgement>>,
}

impl Names {
    /// `text`, as the one copy this unit holds.
    pub fn name(&mut self, text: &str) -> Name {
        if let Some(name) = self.names.get(text) {
            return name.clone();
        }
        let name = Name::from(text);
        self.names.insert(name.clone());
        name
    }

    /// `rules`, as the one copy this unit holds.
    pub fn rules<'r>(&mut self, rules: impl IntoIterator<Item = &'r str>) -> Rules {
        let rules: Vec<Name> = rules.into_iter().map(|rule| self.name(rule)).collect();
        if let Some(shared) = self.rules.get(&rules[..]) {
            return shared.clone();
        }
        let shared = Rules::from(rules);
        self.rules.insert(shared.clone());
        shared
    }

    /// `verdict` as a [`Judgement`], the one copy this unit holds (most sessions share theirs).
    pub fn judgement(&mut self, verdict: &Verdict) -> Arc<Judgement> {
        let judgement = Judgement::of(verdict, self);
        if let Some(shared) = self.judgements.get(&judgement) {
            return shared.clone();
        }
        let shared = Arc::new(judgement);
        self.judgements.insert(shared.clone());
        shared
    }
}

/// A verdict, as far as a backtest needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Judgement {
    pub decision: Decision,
    /// The broken boundary keys, in the verdict's order.
    pub rules: Rules,
    /// The override whose limits applied.
    #[serde(rename = "override")]
    pub override_name: Option<Name>,
}

impl Judgement {
    pub(crate) fn of(verdict: &Verdict, names: &mut Names) -> Judgement {
        Judgement {
            decision: verdict.decision,
            rules: names.rules(verdict.violations.iter().map(|v| v.rule.as_str())),
            override_name: verdict
                .override_name
                .as_deref()
                .map(|name| names.name(name)),
        }
    }

    /// The guard would act on the session or job run: a violation (stopped in enforce mode,
    /// reported in audit mode). Exempt ones break boundaries but are never stopped.
    pub fn stops(&self) -> bool {
        self.decision == Decision::Violation
    }
}
