//! `xtask-aws`: Glue Session Guard's commands that talk to AWS (deploy, plan, status, scan,
//! clean-up, demo, coverage of an account, backtest of history in AWS), with the AWS SDK.
//! `cargo xtask` hands them here; the shared pieces (paths, tools, the template, the package, the
//! backtest engine, the output contract) come from the `xtask` library.
//!
//! Layers, top to bottom (a module uses only those below it, never one beside it):
//! - [`cli`]: parses the command line and runs a command.
//! - [`commands`]: one leaf module per command.
//! - procedures: [`account`] (one stack: deploy, plan, status, clean-up) and [`org`] (a stack
//!   set across an organization).
//! - pieces: [`athena`], [`preflight`], [`assign`] (roles), [`coverage`], [`history`], [`network`],
//!   [`stack`] (CloudFormation), [`artifacts`] (S3), [`runtime_api`], [`aws`] (configuration,
//!   clients, errors).

pub mod account;
pub mod artifacts;
pub mod assign;
pub mod athena;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod coverage;
pub mod history;
pub mod network;
pub mod org;
pub mod preflight;
pub mod runtime_api;
pub mod stack;
