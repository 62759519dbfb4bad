//! `xtask-aws`: the same command line, built with the `aws` feature (the AWS SDK), for deploy,
//! plan, status, clean-up and demo. `cargo xtask` hands those commands here.

fn main() -> std::process::ExitCode {
    xtask::cli::main()
}
