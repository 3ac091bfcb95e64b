//! Strata's application crate: the pure domain, the server-side backend (feature `ssr`) and the
//! Leptos console that is rendered on the server and hydrated in the browser.

pub mod auth;
pub mod components;
pub mod domain;
pub mod error;
pub mod health;
pub mod pages;
mod shell;
pub mod views;

#[cfg(feature = "ssr")]
pub mod backend;

pub use shell::{App, shell};
