//! The landing page: the state of the service at a glance.

use leptos::prelude::*;

use crate::components::page::PageHeader;
use crate::error::WireError;
use crate::health::DatabaseStatus;

/// Asks the database for its schema state and clock.
#[server(prefix = "/fn", endpoint = "check_database")]
pub async fn check_database() -> Result<DatabaseStatus, WireError> {
    use crate::auth::server::{current_principal, with_status};
    use crate::backend::health;
    current_principal().await.map_err(with_status)?;
    let state = crate::auth::server::state().map_err(with_status)?;
    health::database_status(&state.db).await.map_err(|err| {
        tracing::warn!(error = %err, "database status check failed");
        with_status(WireError::Unavailable)
    })
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let check = ServerAction::<CheckDatabase>::new();
    let initial = Resource::new(|| (), |_| check_database());
    // The latest explicit check replaces what the page was rendered with.
    let shown = move || check.value().get().or_else(|| initial.get());

    view! {
        <PageHeader
            title="Overview"
            lede="The state of this Strata installation at a glance."
        />
        <div class="cards">
            <article class="card" aria-labelledby="database-title">
                <h2 id="database-title">"Database"</h2>
                <Suspense fallback=|| view! { <p class="muted">"Asking the database…"</p> }>
                    {move || shown().map(|result| match result {
                        Ok(status) => view! { <StatusList status/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    })}
                </Suspense>
                <ActionForm action=check>
                    <button type="submit" class="button" disabled=move || check.pending().get()>
                        {move || if check.pending().get() { "Checking…" } else { "Check database" }}
                    </button>
                </ActionForm>
            </article>
        </div>
    }
}

#[component]
fn StatusList(status: DatabaseStatus) -> impl IntoView {
    view! {
        <dl class="facts" data-testid="database-status">
            <dt>"Backend"</dt>
            <dd>{status.backend}</dd>
            <dt>"Schema"</dt>
            <dd data-testid="latest-migration">
                {status.latest_migration.unwrap_or_else(|| "not migrated".to_owned())}
            </dd>
            <dt>"Migrations applied"</dt>
            <dd>{status.applied_migrations}</dd>
            <dt>"Tenants"</dt>
            <dd>{status.tenants}</dd>
            <dt>"Database clock"</dt>
            <dd data-testid="database-time">{status.database_time}</dd>
        </dl>
    }
}
