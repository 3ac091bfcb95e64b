//! The `strata` binary's pieces: settings, the HTTP server and the CLI. Thin adapters over
//! `app::backend`, which holds every rule.

pub mod api;
pub mod cli;
pub mod http;
pub mod ofrep;
pub mod settings;
pub mod telemetry;
