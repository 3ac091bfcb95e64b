//! The Configuration section.

use leptos::prelude::*;

use crate::components::page::{PageHeader, Planned};

#[component]
pub fn ConfigurationPage() -> impl IntoView {
    view! {
        <PageHeader title="Configuration" lede="Every setting at every level, with where its value comes from."/>
        <Planned>
            <p>"The per-level editor with inheritance chains arrives with the configuration engine."</p>
        </Planned>
    }
}
