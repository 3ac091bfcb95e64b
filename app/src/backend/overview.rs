//! The overview: for each tenant the viewer may see, its counts; the latest changes they may
//! see; and how many of those happened on each of the last 30 days.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::AppState;
use super::audit::{self, AuditFilter};
use super::directory;
use super::error::ServiceError;
use crate::domain::policy::Principal;
use crate::views::{AuditLine, OverviewView, TenantSummary};

const DAYS: i64 = 30;
/// Enough for a busy month at demo scale; the chart says "at least" past it.
const MAX_EVENTS: usize = 20_000;

pub async fn summary(
    state: &AppState,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<OverviewView, ServiceError> {
    let visible = directory::visible(state, principal).await?;
    let tenants = visible
        .tenants
        .iter()
        .map(|t| {
            let users_here: Vec<&str> = visible
                .users
                .iter()
                .filter(|u| u.tenant.as_deref() == Some(t.id.as_str()))
                .map(|u| u.id.as_str())
                .collect();
            let overrides = visible
                .entries
                .iter()
                .filter(|e| {
                    e.tenant.as_deref() == Some(t.id.as_str())
                        || e.user.as_deref().is_some_and(|u| users_here.contains(&u))
                })
                .count();
            TenantSummary {
                id: t.id.clone(),
                name: t.name.clone(),
                departments: t.departments.len(),
                groups: t.groups.len(),
                users: users_here.len(),
                overrides,
            }
        })
        .collect();
    let (latest, _) = audit::browse(&state.db, principal, &AuditFilter::default(), 10).await?;

    let first_day = (now - Duration::days(DAYS - 1)).date_naive();
    let since = first_day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let filter = AuditFilter {
        since: Some(since),
        ..Default::default()
    };
    let (recent, _) = audit::browse(&state.db, principal, &filter, MAX_EVENTS).await?;
    let mut per_day: BTreeMap<String, usize> = (0..DAYS)
        .map(|i| ((first_day + Duration::days(i)).to_string(), 0))
        .collect();
    for event in &recent {
        if let Some(count) = event.at.get(..10).and_then(|day| per_day.get_mut(day)) {
            *count += 1;
        }
    }
    Ok(OverviewView {
        tenants,
        latest: latest.into_iter().map(AuditLine::from).collect(),
        per_day: per_day.into_iter().collect(),
    })
}
