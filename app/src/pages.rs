//! One module per console section.

pub mod audit;
pub mod changes;
pub mod configuration;
pub mod directory;
pub mod import;
pub mod keys;
pub mod login;
pub mod me;
pub mod not_found;
pub mod overview;
pub mod preview;
pub mod templates;
