//! The `chaos` binary: everything lives in the library; this only maps the outcome to a code.

fn main() -> std::process::ExitCode {
    let exit = kind_chaos::cli::main();
    std::process::ExitCode::from(u8::try_from(exit.code()).unwrap_or(1))
}
