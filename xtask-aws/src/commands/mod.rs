//! One module per command `xtask-aws` runs (`cargo xtask` hands them here): each a leaf, with its
//! clap struct (`<Name>Command`) and `run(self) -> anyhow::Result<Exit>`, over the procedures of
//! `account` (one stack) and `org` (a stack set) and the crate's shared pieces.

pub mod backtest;
pub mod clean_up;
pub mod coverage;
pub mod demo;
pub mod deploy;
pub mod plan;
pub mod scan;
pub mod status;
