//! `strata`: the server and the operator CLI.

use std::process::ExitCode;

use clap::Parser;

use server::cli::{Cli, run};
use server::settings::Settings;

// glibc's allocator spent a third of a million-entry import in malloc and free (and returns
// memory to the system poorly); mimalloc is fast with many small, short-lived allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("strata: cannot read .env: {err}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("strata: {err}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(&settings.log_filter);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("strata: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("strata: {err}");
            err.exit_code()
        }
    }
}
