//! The command line of ../shared/CLI-AND-FORMAT.md.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::{Settings, validate_database_url};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Hierarchical multi-tenant configuration service"
)]
pub struct Cli {
    /// Database URL (default: STRATA_DATABASE_URL, then DATABASE_URL, then ./data/strata.db).
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the console and the HTTP API.
    Serve {
        /// Address to listen on (default: STRATA_ADDR, then 127.0.0.1:3000).
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<SocketAddr>,
    },
    /// Create or upgrade the database schema.
    Migrate,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("--database {0}")]
    BadArgument(String),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::BadArgument(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

pub async fn run(cli: Cli, mut settings: Settings) -> Result<(), CliError> {
    if let Some(url) = cli.database {
        validate_database_url(&url)
            .map_err(|reason| CliError::BadArgument(format!("{url:?} is not valid: {reason}")))?;
        settings.database_url = url;
    }
    match cli.command {
        Command::Serve { addr } => {
            if let Some(addr) = addr {
                settings.addr = addr;
            }
            crate::http::serve(settings).await
        }
        Command::Migrate => {
            let db = app::backend::db::connect(&settings.database_url).await?;
            app::backend::db::migrate(&db).await?;
            println!("database is up to date");
            Ok(())
        }
    }
}
