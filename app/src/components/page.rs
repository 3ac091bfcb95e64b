//! The heading block every page starts with.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PageHeader(title: &'static str, lede: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <header class="page-header">
            <h1>{title}</h1>
            <p class="lede">{lede}</p>
        </header>
    }
}

/// A section that is part of the plan but not built yet, said plainly.
#[component]
pub fn Planned(children: Children) -> impl IntoView {
    view! {
        <div class="card planned">
            <p class="planned-label">"Not available yet"</p>
            {children()}
        </div>
    }
}
