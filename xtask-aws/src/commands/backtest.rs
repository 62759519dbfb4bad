//! `cargo xtask backtest` with history in AWS: `s3://` trails and `--lookup-events`, read with the
//! AWS SDK (`history`), judged by the same engine as trail files (`xtask::history`).

use xtask::Exit;
use xtask::history::HistoryArgs;

#[derive(clap::Args)]
pub struct BacktestCommand {
    #[command(flatten)]
    args: HistoryArgs,
}

impl BacktestCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        if let Some(records) = self.args.bench {
            return self.args.measure(records);
        }
        let source = crate::history::sources(&self.args)?;
        self.args.run(source)
    }
}
