//! The landing page: the state of the service at a glance.

use leptos::prelude::*;

use crate::components::page::PageHeader;
use crate::error::WireError;
use crate::health::DatabaseStatus;
use crate::views::{AuditLine, OverviewView, TenantSummary};

/// Each visible tenant's counts, the latest changes, and changes per day (30 days).
#[server(prefix = "/fn", endpoint = "overview")]
pub async fn overview() -> Result<OverviewView, WireError> {
    use crate::auth::server::{current_principal, service_error, signed_in_principal, with_status};
    let principal = match current_principal().await {
        Err(WireError::Forbidden(reason)) => {
            let refused = with_status(WireError::Forbidden(reason));
            // Signed in without the console trait: their home is "My settings".
            if signed_in_principal().await.is_ok() {
                leptos_axum::redirect("/me");
            }
            return Err(refused);
        }
        other => other.map_err(with_status)?,
    };
    let state = crate::auth::server::state().map_err(with_status)?;
    crate::backend::overview::summary(&state, &principal, chrono::Utc::now())
        .await
        .map_err(service_error)
}

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
    let summary = Resource::new(|| (), |_| overview());
    // The latest explicit check replaces what the page was rendered with.
    let shown = move || check.value().get().or_else(|| initial.get());

    view! {
        <PageHeader
            title="Overview"
            lede="The state of this Strata installation at a glance."
        />
        <Suspense fallback=|| view! { <p class="muted">"Counting…"</p> }>
            {move || summary.get().map(|result| match result {
                Ok(view) => view! { <Summary view/> }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Suspense>
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

#[component]
fn Summary(view: OverviewView) -> impl IntoView {
    let OverviewView {
        tenants,
        latest,
        per_day,
    } = view;
    view! {
        <div class="cards">
            {tenants.into_iter().map(|t| view! { <TenantCard t/> }).collect_view()}
        </div>
        <div class="cards">
            <article class="card" aria-labelledby="chart-title">
                <h2 id="chart-title">"Changes per day"</h2>
                <ChangesChart per_day/>
            </article>
            <article class="card" aria-labelledby="latest-title">
                <h2 id="latest-title">"Latest changes"</h2>
                <LatestChanges latest/>
            </article>
        </div>
    }
    .into_any()
}

#[component]
fn TenantCard(t: TenantSummary) -> impl IntoView {
    view! {
        <article class="card tenant-card" data-testid="tenant-card" data-tenant=t.id.clone()>
            <h2>{t.name.clone()}</h2>
            <p class="muted"><code>{t.id.clone()}</code></p>
            <dl class="facts">
                <dt>"Departments"</dt><dd data-testid="departments">{t.departments}</dd>
                <dt>"Groups"</dt><dd data-testid="groups">{t.groups}</dd>
                <dt>"Users"</dt><dd data-testid="users">{t.users}</dd>
                <dt>"Overrides"</dt><dd data-testid="overrides">{t.overrides}</dd>
            </dl>
        </article>
    }
}

/// A bar chart drawn on the server: one bar per day, labelled for screen readers.
#[component]
fn ChangesChart(per_day: Vec<(String, usize)>) -> impl IntoView {
    const WIDTH: usize = 600;
    const HEIGHT: usize = 160;
    let total: usize = per_day.iter().map(|(_, n)| n).sum();
    let peak = per_day.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = WIDTH / per_day.len().max(1);
    let bars = per_day
        .iter()
        .enumerate()
        .map(|(i, (day, count))| {
            let height = (count * (HEIGHT - 20)) / peak;
            let x = i * slot + 2;
            let y = HEIGHT - height;
            view! {
                <rect
                    class="bar"
                    x=x.to_string()
                    y=y.to_string()
                    width=(slot.saturating_sub(4)).to_string()
                    height=height.to_string()
                    data-day=day.clone()
                    data-count=count.to_string()
                >
                    <title>{format!("{day}: {count} changes")}</title>
                </rect>
            }
        })
        .collect_view();
    let first = per_day.first().map(|(d, _)| d.clone()).unwrap_or_default();
    let last = per_day.last().map(|(d, _)| d.clone()).unwrap_or_default();
    view! {
        <svg
            class="chart"
            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
            role="img"
            aria-label=format!("{total} changes between {first} and {last}; the busiest day had {peak}")
            data-testid="changes-chart"
        >
            {bars}
        </svg>
        <p class="muted chart-legend"><span>{first}</span><span>{format!("{total} changes")}</span><span>{last}</span></p>
    }
    .into_any()
}

#[component]
fn LatestChanges(latest: Vec<AuditLine>) -> impl IntoView {
    if latest.is_empty() {
        return view! { <p class="muted">"Nothing has changed yet."</p> }.into_any();
    }
    view! {
        <ul class="latest" data-testid="latest">
            {latest
                .into_iter()
                .map(|e| {
                    let what = [e.key.clone(), e.scope.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" at ");
                    view! {
                        <li>
                            <span class="muted">{e.at.get(..16).unwrap_or(&e.at).replace('T', " ")}</span>
                            " " <strong>{e.actor}</strong> " " {e.action} " " <code>{what}</code>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        <a href="/audit">"All changes"</a>
    }
    .into_any()
}
