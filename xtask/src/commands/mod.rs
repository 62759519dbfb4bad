//! One module per `cargo xtask` command: each a leaf, with its clap struct (`<Name>Command`) and
//! `run(self) -> anyhow::Result<Exit>`. What two commands share lives below them, in the
//! library's other modules, never in another command.

pub mod backtest;
pub mod bench;
pub mod build;
pub mod catalogue;
pub mod coverage;
pub mod evaluate;
pub mod lint;
pub mod render;
pub mod setup;
pub mod test;
pub mod test_policies;
pub mod validate;
