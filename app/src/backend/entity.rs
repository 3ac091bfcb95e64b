//! sea-orm entities, one per table. They stay inside the backend: services map them to
//! domain types before anything crosses into a server function, the API or the CLI.

pub mod api_token;
pub mod approval_rule;
pub mod audit_event;
pub mod audit_head;
pub mod audit_secret;
pub mod change;
pub mod change_request;
pub mod change_review;
pub mod config_key;
pub mod department;
pub mod entry;
pub mod group;
pub mod login_failure;
pub mod session;
pub mod template;
pub mod template_entry;
pub mod tenant;
pub mod token_reveal;
pub mod user;
pub mod user_group;
pub mod user_trait;
