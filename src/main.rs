//! The `offhours` binary: the Lambda runtime when AWS_LAMBDA_RUNTIME_API is set, else the command line.
// The Lambda future nests the whole tick (executor, notifier, SDK calls); laying it out
// in a release build needs more than the default query depth of 128.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::Parser;
use offhours::app::cli::{run_command, Cli};
use offhours::ports::Settings;

fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        offhours::app::lambda::init_logging();
        return match lambda() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "lambda runtime stopped");
                ExitCode::from(2)
            }
        };
    }
    let cli = Cli::parse();
    offhours::app::cli::init_logging();
    let result = Settings::from_env().and_then(|settings| run_command(cli.command, &settings));
    match result {
        Ok(code) => code,
        Err(e) => {
            let e = anyhow::Error::new(e);
            eprintln!("offhours: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One thread, as the CLI's tick: the tick waits on AWS, not on the CPU (a 128 MB function
/// has a fraction of one vCPU), and every worker thread would bring a heap arena of its own
/// (the 10k-resource tick on moto peaked at 77 MiB on two workers, BENCHMARKS.md).
#[tokio::main(flavor = "current_thread")]
async fn lambda() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    offhours::app::lambda::serve(settings)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
