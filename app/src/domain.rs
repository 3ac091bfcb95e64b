//! The rules of Strata in pure Rust: names, levels and scopes, key definitions and value
//! validation, the resolution engine and the audit chain. No I/O, no framework types, no
//! clock: it compiles into the browser build as well as the server.

pub mod approval;
pub mod audit_chain;
pub mod change;
pub mod document;
pub mod dotenv;
pub mod editor;
pub mod impact;
pub mod key;
pub mod level;
pub mod name;
pub mod ofrep;
pub mod policy;
pub mod resolve;
#[cfg(feature = "ssr")]
pub mod schema;
pub mod scope;
pub mod traits;
pub mod value;

pub use key::{Constraints, KeyDefinition, KeyType};
pub use level::Level;
pub use name::{ConfigKey, NameError, Slug};
pub use resolve::{
    Candidate, CandidateState, Cell, Context, Keys, Layer, Resolved, Snapshot, Source,
};
pub use scope::Scope;
