//! `cargo xtask backtest` with history in AWS: `s3://` trails and `--lookup-events`, read with the
//! AWS SDK (`history`), judged by the same engine as trail files (`xtask::history`); the runs of
//! jobs the history does not define are judged over Glue's `GetJob`. With `--athena`, the
//! history is a query on the organization's CloudTrail table (`athena`).

use xtask::Exit;
use xtask::history::HistoryArgs;

#[derive(clap::Args)]
pub struct BacktestCommand {
    #[command(flatten)]
    args: HistoryArgs,
}

impl BacktestCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        // Before anything is asked of AWS (as `cargo xtask backtest` does before handing over).
        self.args.refuse_misplaced_flags()?;
        if let Some(records) = self.args.bench {
            return self.args.measure(records);
        }
        if self.args.athena.athena && self.args.athena.offline {
            return self.args.print_offline_query();
        }
        if self.args.athena.athena {
            return crate::athena::backtest(&self.args);
        }
        let source = crate::history::sources(&self.args)?;
        // Runs of jobs the history does not define are judged over Glue's definition now.
        let jobs = match self.args.reads_aws() {
            true => Some(crate::history::GlueJobs::new(&self.args)?),
            false => None,
        };
        self.args.run_with(
            source,
            jobs.as_ref()
                .map(|jobs| jobs as &dyn xtask::history::JobLookup),
            None,
        )
    }
}
