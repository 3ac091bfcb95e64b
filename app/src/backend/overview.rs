//! The overview: for each tenant the viewer may see, its counts; the latest changes they may
//! see; and how many of those happened on each of the last 30 days.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::AppState;
use super::audit::{self, AuditFilter};
use super::directory;
use super::error::ServiceError;
use crate::domain::name::Slug;
use crate::domain::policy::{Action, Principal, Target, decide};
use crate::domain::scope::Scope;
use crate::views::{AuditLine, OverviewView, TenantSummary};

const DAYS: i64 = 30;
/// Enough for a busy month at demo scale; the chart says "at least" past it.
const MAX_EVENTS: usize = 20_000;

pub async fn summary(
    state: &AppState,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<OverviewView, ServiceError> {
    // Names from the tenants table, counts from the snapshots: no directory is read.
    let tenants = directory::visible_tenants(state, principal)
        .await?
        .into_iter()
        .map(|(id, name)| counted(state, principal, id, name))
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

/// One tenant at a glance, counted in the database (nothing is loaded whole).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TenantStatus {
    pub tenant: String,
    pub name: String,
    pub departments: u64,
    pub groups: u64,
    pub users: u64,
    /// Entries at the tenant's tenant, department, group and user levels.
    pub entries: u64,
    /// The version of the tenant's snapshot (its ETags name it).
    pub revision: u64,
    /// The latest change in the tenant the caller may see (sign-ins and reveals aside).
    pub last_change: Option<LastChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LastChange {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
}

/// The status of `tenant` (the caller may see it: `Action::ViewTenantStatus`).
pub async fn tenant_status(
    state: &AppState,
    principal: &Principal,
    tenant: &crate::domain::name::Slug,
) -> Result<TenantStatus, ServiceError> {
    use sea_orm::sea_query::Query;
    use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};

    use super::entity::{department, entry, group, tenant as tenants, user};
    use crate::domain::policy::{Action, decide};

    let db = &state.db;
    let row = tenants::Entity::find()
        .filter(tenants::Column::Slug.eq(tenant.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("tenant {tenant} was not found")))?;
    let departments = department::Entity::find()
        .filter(department::Column::TenantId.eq(row.id))
        .count(db)
        .await?;
    let groups = group::Entity::find()
        .filter(group::Column::TenantId.eq(row.id))
        .count(db)
        .await?;
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(row.id))
        .count(db)
        .await?;
    let users_here = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(user::Column::TenantId.eq(row.id))
        .to_owned();
    let entries = entry::Entity::find()
        .filter(
            Condition::any()
                .add(entry::Column::TenantId.eq(row.id))
                .add(entry::Column::UserId.in_subquery(users_here)),
        )
        .count(db)
        .await?;
    // Sign-ins and reveals change nothing; they are skipped in SQL. The caller administers
    // the tenant, so every event left is theirs to see: the first one answers.
    let filter = AuditFilter {
        tenant: Some(tenant.to_string()),
        exclude_actions: super::audit::SIGN_IN_ACTIONS
            .iter()
            .chain(&["secret.reveal"])
            .map(|a| (*a).to_owned())
            .collect(),
        ..Default::default()
    };
    let (latest, _) = audit::list_visible(db, &filter, 1, |event| {
        decide(principal, &Action::ReadEvent(&event.place())).is_allowed()
    })
    .await?;
    let revision = state
        .snapshots
        .get(Some(tenant))
        .map_or(0, |snapshot| snapshot.version);
    Ok(TenantStatus {
        tenant: row.slug,
        name: row.name,
        departments,
        groups,
        users,
        entries,
        revision,
        last_change: latest.into_iter().next().map(|e| LastChange {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
        }),
    })
}

/// Tenant `id`'s card: what of its departments, groups and users `principal` may read, and
/// how many entries those scopes and the tenant hold (its own, not the templates it follows),
/// counted in its snapshot.
fn counted(state: &AppState, principal: &Principal, id: Slug, name: String) -> TenantSummary {
    let Some(snapshot) = state.snapshots.get(Some(&id)) else {
        return TenantSummary {
            id: id.to_string(),
            name,
            departments: 0,
            groups: 0,
            users: 0,
            overrides: 0,
        };
    };
    let readable = |target: Target| decide(principal, &Action::Read(&target)).is_allowed();
    let user_target = |user: &Slug| Target {
        scope: Scope::User { user: user.clone() },
        user_tenant: Some(id.clone()),
        user_department: snapshot.users.get(user).and_then(|p| p.department.clone()),
    };
    let departments = snapshot
        .departments
        .iter()
        .filter(|d| {
            readable(Target::scope(Scope::Department {
                tenant: id.clone(),
                department: (*d).clone(),
            }))
        })
        .count();
    let groups = snapshot
        .groups
        .keys()
        .filter(|g| {
            readable(Target::scope(Scope::Group {
                tenant: id.clone(),
                group: (*g).clone(),
            }))
        })
        .count();
    let users = snapshot
        .users
        .keys()
        .filter(|u| readable(user_target(u)))
        .count();
    let overrides = snapshot
        .layers
        .values()
        .filter(|layer| match layer.scope() {
            Scope::User { user } => readable(user_target(user)),
            scope => readable(Target::scope(scope.clone())),
        })
        .map(|layer| layer.entries().count())
        .sum();
    TenantSummary {
        id: id.to_string(),
        name,
        departments,
        groups,
        users,
        overrides,
    }
}
