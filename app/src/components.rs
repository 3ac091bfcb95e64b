//! Pieces of the console used by several pages.

pub mod layout;
pub mod page;
