//! The `offhours` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use offhours::cli::{run_offline, Cli};
use offhours::settings::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Settings::from_env().and_then(|settings| run_offline(cli.command, &settings));
    match result {
        Ok(code) => code,
        Err(e) => {
            let e = anyhow::Error::new(e);
            eprintln!("offhours: {e:#}");
            ExitCode::from(2)
        }
    }
}
