//! `xtask-aws`: the commands that talk to AWS. `cargo xtask` hands them here.

fn main() -> std::process::ExitCode {
    xtask_aws::cli::main()
}
