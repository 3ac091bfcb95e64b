//! The HTML document and the console's routes.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::components::layout::ConsoleLayout;
use crate::pages::{
    audit::AuditPage, changes::ChangesPage, configuration::ConfigurationPage,
    directory::DirectoryPage, import::ImportPage, keys::KeysPage, login::LoginPage,
    me::MySettingsPage, not_found::NotFoundPage, overview::OverviewPage, preview::PreviewPage,
    templates::TemplatesPage,
};

/// The whole document, rendered on the server around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                // The bundle's stylesheet under the (content-hashed) name the site was built with.
                <link rel="stylesheet" id="strata" href=format!("/{}/{}.css", options.site_pkg_dir, options.output_name)/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Every route renders in `SsrMode::Async`: the server waits for the page's data and sends
/// complete HTML, so the console reads and works with JavaScript switched off (streamed
/// out-of-order fragments would need a script to land).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Title formatter=|page: String| format!("{page} · Strata")/>
        <Router>
            <ConsoleLayout>
                <Routes fallback=NotFoundPage>
                    <Route path=StaticSegment("") ssr=SsrMode::Async view=OverviewPage/>
                    <Route path=StaticSegment("configuration") ssr=SsrMode::Async view=ConfigurationPage/>
                    <Route path=StaticSegment("preview") ssr=SsrMode::Async view=PreviewPage/>
                    <Route path=StaticSegment("changes") ssr=SsrMode::Async view=ChangesPage/>
                    <Route path=StaticSegment("audit") ssr=SsrMode::Async view=AuditPage/>
                    <Route path=StaticSegment("directory") ssr=SsrMode::Async view=DirectoryPage/>
                    <Route path=StaticSegment("keys") ssr=SsrMode::Async view=KeysPage/>
                    <Route path=StaticSegment("templates") ssr=SsrMode::Async view=TemplatesPage/>
                    <Route path=StaticSegment("import") ssr=SsrMode::Async view=ImportPage/>
                    <Route path=StaticSegment("me") ssr=SsrMode::Async view=MySettingsPage/>
                    <Route path=StaticSegment("login") ssr=SsrMode::Async view=LoginPage/>
                </Routes>
            </ConsoleLayout>
        </Router>
    }
}
