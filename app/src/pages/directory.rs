//! The Directory section.

use leptos::prelude::*;

use crate::components::page::{PageHeader, Planned};

#[component]
pub fn DirectoryPage() -> impl IntoView {
    view! {
        <PageHeader title="Directory" lede="Tenants, departments, groups and users."/>
        <Planned>
            <p>"Directory management arrives with accounts and authorization."</p>
        </Planned>
    }
}
