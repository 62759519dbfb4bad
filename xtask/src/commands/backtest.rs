//! `cargo xtask backtest`: judge every `CreateSession` (and, with a `jobs` section, every job
//! run and definition) in a stretch of CloudTrail's history under a policy (and a baseline),
//! with the backtest engine (`history`). Trail files and folders, and an Athena result saved to a
//! file (`--athena-result`), are read here; history in AWS (`s3://` trails, `--lookup-events`,
//! a query on Amazon Athena with `--athena`) is handed to `xtask-aws`, which reads it with the
//! AWS SDK and the same engine.

use crate::history::HistoryArgs;
use crate::{Exit, forward};

#[derive(clap::Args)]
pub struct BacktestCommand {
    #[command(flatten)]
    args: HistoryArgs,
}

impl BacktestCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        // Before anything is built or handed over.
        self.args.refuse_misplaced_flags()?;
        if let Some(records) = self.args.bench {
            return self.args.measure(records);
        }
        if self.args.athena.athena && self.args.athena.offline {
            return self.args.print_offline_query();
        }
        if self.args.reads_aws() {
            return forward::to_aws(std::env::args_os().skip(1).collect());
        }
        if let Some(result) = self.args.result_file()? {
            return self.args.run(Box::new(result));
        }
        let source = match self.args.local_source()? {
            Some(source) => source,
            None => crate::history::TrailFolders::new(Vec::new())?,
        };
        self.args.run(Box::new(source))
    }
}
