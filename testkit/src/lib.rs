//! The test kit of Glue Session Guard, the one place test helpers live: for the command-line
//! tests (`xtask/tests/`: [`cli`]), the deploy tests against moto (`xtask-aws/tests/`:
//! [`emulator`]), and the emulated world of the lambda crate's tests (`lambda/tests/`) and
//! benches (`lambda/benches/`): a moto server per test process
//! ([`moto`]), a region of it with the guard's topic, an SQS inbox subscribed to it and the
//! notification ledger table, and more topics with inboxes (a central topic) ([`world`]), the fixtures ([`fixtures`]), Lambda events and contexts
//! ([`events`]), guards on mocked clients ([`mocked`]), and the built `bootstrap` run as Lambda
//! runs it ([`function`], under the Runtime API stand-in [`runtime_api`]).
//!
//! Why a crate of its own, and only a dev-dependency of the lambda crate (which it depends on in
//! turn; cargo allows that cycle through dev-dependencies, as tokio and tokio-test do): a plain
//! `cargo test -p glue-session-guard-lambda` or `cargo bench` gets it with no feature to remember
//! (a `testkit` feature of the lambda crate would need `--features testkit` or `required-features`
//! on every test and bench, which silently skip without it), and the function's own manifest and
//! library carry no test-only dependencies or code. The one limit: the lambda crate's unit tests
//! (`#[cfg(test)]` in `lambda/src`) cannot use it, because they compile a second copy of the
//! library whose types are not the kit's; they do not need it.
//!
//! [`runtime_api`] is xtask-aws's own file (`xtask-aws/src/runtime_api.rs`, which `cargo xtask
//! demo` uses), compiled here as well, so the end-to-end test and the demo run the function under
//! one stand-in, and the lambda tests need neither `cargo lambda` nor the AWS side's dependencies.
//! That works while the file keeps to std, serde_json and anyhow (no `crate::` paths).

pub mod cli;
pub mod emulator;
pub mod events;
pub mod fixtures;
pub mod function;
pub mod mocked;
pub mod moto;
#[path = "../../xtask-aws/src/runtime_api.rs"]
pub mod runtime_api;
pub mod world;

pub use events::{CreateSession, context};
pub use fixtures::{ACCOUNT, policy};
pub use function::Function;
pub use moto::MotoServer;
pub use world::{Inbox, NewSession, Resources, World};
