//! `cargo xtask`: the light binary (no AWS SDK). The AWS commands are handed to `xtask-aws`.

fn main() -> std::process::ExitCode {
    xtask::cli::main()
}
