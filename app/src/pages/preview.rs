//! The Preview section.

use leptos::prelude::*;

use crate::components::page::{PageHeader, Planned};

#[component]
pub fn PreviewPage() -> impl IntoView {
    view! {
        <PageHeader title="Preview" lede="What a given user, or a what-if context, effectively gets."/>
        <Planned>
            <p>"The effective preview and side-by-side compare arrive with the configuration engine."</p>
        </Planned>
    }
}
