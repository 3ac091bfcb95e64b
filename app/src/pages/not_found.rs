//! Shown for any path the console does not know.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::page::PageHeader;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageHeader title="Page not found" lede="There is nothing at this address."/>
        <p><A href="/">"Back to the overview"</A></p>
    }
}
