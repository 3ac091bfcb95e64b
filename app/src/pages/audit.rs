//! The Audit section.

use leptos::prelude::*;

use crate::components::page::{PageHeader, Planned};

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <PageHeader title="Audit" lede="Every change, who made it and why, with revert."/>
        <Planned>
            <p>"The audit browser arrives with the audit chain."</p>
        </Planned>
    }
}
