//! Accounts: argon2id passwords, logins with throttling, and the account commands of the CLI.
//! Every login, success or failure, is audited; messages never say whether an account exists.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::json;

use super::AppState;
use super::audit::{Actor, AuditWriter};
use super::entity::{department, group, login_failure, tenant, user, user_group, user_trait};
use super::error::ServiceError;
use crate::domain::audit_chain::AuditRecord;
use crate::domain::name::Slug;
use crate::domain::policy::Principal;
use crate::domain::traits::Trait;

pub const MIN_PASSWORD_CHARS: usize = 12;
/// Sign-in attempts per account that start a cool-down.
pub const MAX_ACCOUNT_FAILURES: usize = 5;
/// Failed sign-ins from one client address (whatever the accounts) that start a cool-down for
/// that address. Far above the account limit: behind a proxy or a hospital's NAT one address
/// is many people, and one of them mistyping must not lock the others out.
pub const MAX_ADDRESS_FAILURES: usize = 50;
/// The window the failures are counted in, which is also the longest cool-down.
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

/// OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn check_password_strength(password: &str) -> Result<(), ServiceError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ServiceError::Invalid(format!(
            "password: must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds by design.
#[tracing::instrument(skip(password))]
pub async fn hash_password(password: String) -> Result<String, ServiceError> {
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Invalid(format!("password: cannot be hashed ({e})")))
    })
    .await
    .map_err(|e| {
        ServiceError::Database(sea_orm::DbErr::Custom(format!("hashing task failed: {e}")))
    })?
}

/// A hash of a random password, verified against when the account does not exist so that an
/// unknown name costs as much time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = uuid::Uuid::new_v4().to_string();
        argon2()
            .hash_password(random.as_bytes())
            .expect("hash a random password")
            .to_string()
    })
}

#[tracing::instrument(skip(password, hash))]
async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = hash.as_deref().unwrap_or_else(|| dummy_hash());
        let matches = PasswordHash::new(stored)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// How long an account or address must wait, given its failures inside the window and the
/// number that starts a cool-down.
pub fn cool_down(failures: &[DateTime<Utc>], limit: usize, now: DateTime<Utc>) -> Option<Duration> {
    let window = Duration::minutes(FAILURE_WINDOW_MINUTES);
    let mut recent: Vec<&DateTime<Utc>> =
        failures.iter().filter(|at| now - **at < window).collect();
    if recent.len() < limit {
        return None;
    }
    recent.sort();
    // Free again when the oldest counted failure leaves the window.
    let oldest = recent[recent.len() - limit];
    Some(*oldest + window - now)
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown account, wrong password, disabled account, no password: all alike.
    #[error("the user name or password is not correct")]
    Invalid,
    #[error("too many failed sign-ins; try again in {} minutes", (.retry_after.num_seconds() + 59) / 60)]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<sea_orm::DbErr> for LoginError {
    fn from(err: sea_orm::DbErr) -> Self {
        LoginError::Service(ServiceError::Database(err))
    }
}

async fn failures_since<C: ConnectionTrait>(
    db: &C,
    column: login_failure::Column,
    value: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, sea_orm::DbErr> {
    Ok(login_failure::Entity::find()
        .filter(column.eq(value))
        .filter(login_failure::Column::At.gt(since))
        .order_by_desc(login_failure::Column::At)
        .all(db)
        .await?
        .into_iter()
        .map(|f| f.at)
        .collect())
}

/// The address a sign-in is counted under: an IPv4 address, or the /64 network of an IPv6
/// one (a single host commonly holds a whole /64, and would get a fresh count per address).
pub fn throttle_address(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
        Ok(other) => other.to_canonical().to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Which refused sign-ins were audited lately, so that a flood of them leaves one event per
/// account and address a minute. Per process: each replica audits its own first refusal.
#[derive(Debug, Default)]
pub struct SignInLimiter {
    audited: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl SignInLimiter {
    const QUIET: std::time::Duration = std::time::Duration::from_secs(60);
    const CAPACITY: usize = 10_000;

    /// Whether a refusal for `account` from `address` is the first in a minute.
    fn first_refusal(&self, account: &str, address: Option<&str>) -> bool {
        let now = std::time::Instant::now();
        let mut audited = self.audited.lock().expect("sign-in limiter poisoned");
        if audited.len() >= Self::CAPACITY {
            audited.retain(|_, at| now.duration_since(*at) < Self::QUIET);
        }
        let key = format!("{account}\n{}", address.unwrap_or_default());
        match audited.get(&key) {
            Some(at) if now.duration_since(*at) < Self::QUIET => false,
            _ => {
                audited.insert(key, now);
                true
            }
        }
    }
}

/// Where sign-in events about `account` are filed: the account's user level, tenant and
/// department; a name that matches no account is filed nowhere (super admins only).
async fn sign_in_event<C: ConnectionTrait>(
    db: &C,
    action: &str,
    account: Option<&user::Model>,
) -> Result<AuditRecord, sea_orm::DbErr> {
    let (tenant, department) = match account {
        Some(row) => place_of(db, row).await?,
        None => (None, None),
    };
    Ok(AuditRecord {
        action: action.into(),
        level: Some("user".into()),
        scope: account.map(|row| row.slug.clone()),
        tenant,
        department,
        ..Default::default()
    })
}

/// Checks a user name and password; returns who signed in.
///
/// Counting the recent failures and recording this attempt are one step, taken under the
/// audit chain's write lock before the password is checked: however many attempts race, at
/// most [`MAX_ACCOUNT_FAILURES`] of them are ever checked within the window. The attempt
/// stays recorded as a failure unless the password is right.
#[tracing::instrument(skip(state, password), fields(username = %username))]
pub async fn login(
    state: &AppState,
    username: &str,
    password: String,
    client: &Actor,
) -> Result<Principal, LoginError> {
    let now = Utc::now();
    // Counted, stored and looked up in one form: what the audit keeps of the typed name.
    let account = super::audit::bounded(
        &username.trim().to_lowercase(),
        super::audit::MAX_ACTOR_CHARS,
    );
    let address = client.client_ip.as_deref().map(throttle_address);
    let since = now - Duration::minutes(FAILURE_WINDOW_MINUTES);
    let actor = Actor {
        name: account.clone(),
        ..client.clone()
    };

    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, now).await?;
    let found = user::Entity::find()
        .filter(user::Column::Slug.eq(account.as_str()))
        .one(&tx)
        .await?;
    let by_account = failures_since(&tx, login_failure::Column::Account, &account, since).await?;
    let mut wait = cool_down(&by_account, MAX_ACCOUNT_FAILURES, now);
    if let Some(address) = &address {
        let by_address =
            failures_since(&tx, login_failure::Column::ClientIp, address, since).await?;
        wait = wait.max(cool_down(&by_address, MAX_ADDRESS_FAILURES, now));
    }
    if let Some(retry_after) = wait {
        // One event per account and address a minute: a flood of refused attempts must not
        // flood the audit (and its lock) too.
        if state.sign_ins.first_refusal(&account, address.as_deref()) {
            let event = sign_in_event(&tx, "login.throttled", found.as_ref()).await?;
            audit.append(&tx, &actor, event).await?;
            audit.finish(&tx).await?;
            tx.commit().await?;
        }
        return Err(LoginError::Throttled { retry_after });
    }
    let attempt = login_failure::ActiveModel {
        account: Set(account.clone()),
        client_ip: Set(address),
        at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;

    let hash = found.as_ref().and_then(|u| u.password_hash.clone());
    let password_ok = verify_password(password, hash).await;
    let usable = found.as_ref().filter(|u| !u.disabled && password_ok);
    let principal = match usable {
        Some(row) => principal(&state.db, row.id).await?,
        None => None,
    };

    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    let action = if principal.is_some() {
        // A sign-in clears the account's failures, this attempt's included.
        login_failure::Entity::delete_many()
            .filter(login_failure::Column::Account.eq(attempt.account.as_str()))
            .exec(&tx)
            .await?;
        "login.success"
    } else {
        "login.failure"
    };
    let event = sign_in_event(&tx, action, found.as_ref()).await?;
    audit.append(&tx, &actor, event).await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    principal.ok_or(LoginError::Invalid)
}

/// A user's display name.
pub async fn display_name<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Slug.eq(slug))
        .one(db)
        .await?
        .map(|u| u.name))
}

/// The database id of a user.
pub async fn user_id<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<i64>, sea_orm::DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Slug.eq(slug))
        .one(db)
        .await?
        .map(|u| u.id))
}

/// What a session records of its account: the user's id and session epoch, by slug.
pub async fn session_key<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<(i64, i64)>, sea_orm::DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Slug.eq(slug))
        .one(db)
        .await?
        .map(|u| (u.id, u.session_epoch)))
}

/// The principal of a session: an enabled user whose session epoch is still `epoch`.
pub async fn session_principal<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    epoch: i64,
) -> Result<Option<Principal>, sea_orm::DbErr> {
    let Some(row) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    if row.session_epoch != epoch {
        return Ok(None);
    }
    principal_of(db, row).await
}

/// The principal of an enabled user, by database id.
pub async fn principal<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> Result<Option<Principal>, sea_orm::DbErr> {
    let Some(row) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    principal_of(db, row).await
}

/// The principal of an enabled user, by slug.
pub async fn principal_by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<Principal>, sea_orm::DbErr> {
    let Some(row) = user::Entity::find()
        .filter(user::Column::Slug.eq(slug))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    principal_of(db, row).await
}

async fn principal_of<C: ConnectionTrait>(
    db: &C,
    row: user::Model,
) -> Result<Option<Principal>, sea_orm::DbErr> {
    if row.disabled {
        return Ok(None);
    }
    let bad = |e: crate::domain::name::NameError| sea_orm::DbErr::Custom(e.to_string());
    let (tenant, department) = place_of(db, &row).await?;
    let mut groups = BTreeSet::new();
    for m in user_group::Entity::find()
        .filter(user_group::Column::UserId.eq(row.id))
        .all(db)
        .await?
    {
        if let Some(g) = group::Entity::find_by_id(m.group_id).one(db).await? {
            groups.insert(Slug::parse("group", &g.slug).map_err(bad)?);
        }
    }
    let traits = user_trait::Entity::find()
        .filter(user_trait::Column::UserId.eq(row.id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|t| t.name.parse::<Trait>().ok())
        .collect();
    Ok(Some(Principal {
        user: Slug::parse("user", &row.slug).map_err(bad)?,
        tenant: tenant
            .map(|t| Slug::parse("tenant", &t))
            .transpose()
            .map_err(bad)?,
        department: department
            .map(|d| Slug::parse("department", &d))
            .transpose()
            .map_err(bad)?,
        groups,
        traits,
    }))
}

/// An account for `strata admin create`.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub slug: Slug,
    pub name: String,
    pub tenant: Option<Slug>,
    pub department: Option<Slug>,
    pub groups: Vec<Slug>,
    pub traits: BTreeSet<Trait>,
}

async fn user_row<C: ConnectionTrait>(db: &C, slug: &Slug) -> Result<user::Model, ServiceError> {
    user::Entity::find()
        .filter(user::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {slug} was not found")))
}

/// The tenant and department slugs of a user row, as the audit files events about them.
pub(crate) async fn place_of<C: ConnectionTrait>(
    db: &C,
    row: &user::Model,
) -> Result<(Option<String>, Option<String>), sea_orm::DbErr> {
    let tenant = match row.tenant_id {
        Some(id) => tenant::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|t| t.slug),
        None => None,
    };
    let department = match row.department_id {
        Some(id) => department::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|d| d.slug),
        None => None,
    };
    Ok((tenant, department))
}

/// Creates a user with a password.
#[tracing::instrument(skip(state, password), fields(user = %account.slug))]
pub async fn create_account(
    state: &AppState,
    actor: &Actor,
    account: NewAccount,
    password: String,
) -> Result<(), ServiceError> {
    check_password_strength(&password)?;
    if account.name.trim().is_empty() {
        return Err(ServiceError::Invalid("name: must not be empty".into()));
    }
    let hash = hash_password(password).await?;
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    insert_account(&tx, &mut audit, actor, &account, hash).await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(())
}

/// Inserts `account` with the password hash `hash` and its audit event, inside the caller's
/// transaction (whose audit lock makes the existence check and the insert one step).
async fn insert_account<C: ConnectionTrait>(
    tx: &C,
    audit: &mut AuditWriter,
    actor: &Actor,
    account: &NewAccount,
    hash: String,
) -> Result<(), ServiceError> {
    let now = Utc::now();
    if user::Entity::find()
        .filter(user::Column::Slug.eq(account.slug.as_str()))
        .one(tx)
        .await?
        .is_some()
    {
        return Err(ServiceError::Invalid(format!(
            "user: {} already exists",
            account.slug
        )));
    }
    let tenant_id = match &account.tenant {
        Some(t) => Some(
            tenant::Entity::find()
                .filter(tenant::Column::Slug.eq(t.as_str()))
                .one(tx)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("tenant {t} was not found")))?
                .id,
        ),
        None => None,
    };
    let department_id = match (&account.department, tenant_id) {
        (Some(d), Some(t)) => Some(
            department::Entity::find()
                .filter(department::Column::TenantId.eq(t))
                .filter(department::Column::Slug.eq(d.as_str()))
                .one(tx)
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "department {d} was not found in the user's tenant"
                    ))
                })?
                .id,
        ),
        (Some(_), None) => {
            return Err(ServiceError::Invalid(
                "department: a user without a tenant has no department".into(),
            ));
        }
        (None, _) => None,
    };
    if !account.groups.is_empty() && tenant_id.is_none() {
        return Err(ServiceError::Invalid(
            "group: a user without a tenant has no groups".into(),
        ));
    }
    let row = user::ActiveModel {
        slug: Set(account.slug.to_string()),
        name: Set(account.name.clone()),
        tenant_id: Set(tenant_id),
        department_id: Set(department_id),
        password_hash: Set(Some(hash)),
        disabled: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    for g in &account.groups {
        let t = tenant_id.expect("checked above");
        let group_row = group::Entity::find()
            .filter(group::Column::TenantId.eq(t))
            .filter(group::Column::Slug.eq(g.as_str()))
            .one(tx)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("group {g} was not found in the user's tenant"))
            })?;
        user_group::ActiveModel {
            user_id: Set(row.id),
            tenant_id: Set(t),
            group_id: Set(group_row.id),
        }
        .insert(tx)
        .await?;
    }
    for t in &account.traits {
        user_trait::ActiveModel {
            user_id: Set(row.id),
            name: Set(t.as_str().into()),
        }
        .insert(tx)
        .await?;
    }
    audit
        .append(
            tx,
            actor,
            AuditRecord {
                action: "user.create".into(),
                level: Some("user".into()),
                scope: Some(account.slug.to_string()),
                tenant: account.tenant.as_ref().map(ToString::to_string),
                department: account.department.as_ref().map(ToString::to_string),
                new_value: Some(
                    json!({
                        "name": account.name, "tenant": account.tenant, "department": account.department,
                        "groups": account.groups, "traits": account.traits, "password": "set",
                    })
                    .to_string(),
                ),
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}

/// Replaces a user's password, which ends every session of the account; answers the
/// account's new session epoch (a session that should survive the change adopts exactly it).
#[tracing::instrument(skip(state, password), fields(user = %slug))]
pub async fn set_password(
    state: &AppState,
    actor: &Actor,
    slug: &Slug,
    password: String,
) -> Result<i64, ServiceError> {
    check_password_strength(&password)?;
    let hash = hash_password(password).await?;
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    let row = user_row(&tx, slug).await?;
    let epoch = write_password(&tx, &mut audit, actor, &row, hash).await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.tokens.invalidate();
    Ok(epoch)
}

/// Gives each enabled account of `slugs` that has no password yet a random one, all in one
/// transaction (each audited like any password change); answers the accounts and passwords
/// set, to be shown once. Accounts that have a password keep it, so running it again, or on
/// two replicas at once, sets none twice.
#[tracing::instrument(skip(state, slugs))]
pub async fn give_missing_passwords(
    state: &AppState,
    actor: &Actor,
    slugs: &[Slug],
) -> Result<Vec<(Slug, String)>, ServiceError> {
    // Hashing is slow on purpose: done before the transaction, for the accounts that look
    // like they need it, then checked again under the audit lock.
    let mut candidates = Vec::new();
    for slug in slugs {
        let row = user_row(&state.db, slug).await?;
        if row.password_hash.is_none() && !row.disabled {
            let password = uuid::Uuid::new_v4().simple().to_string();
            let hash = hash_password(password.clone()).await?;
            candidates.push((slug.clone(), password, hash));
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    let mut given = Vec::new();
    for (slug, password, hash) in candidates {
        let row = user_row(&tx, &slug).await?;
        if row.password_hash.is_none() && !row.disabled {
            write_password(&tx, &mut audit, actor, &row, hash).await?;
            given.push((slug, password));
        }
    }
    if given.is_empty() {
        // Another process gave them passwords meanwhile: nothing to write.
        return Ok(given);
    }
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.tokens.invalidate();
    Ok(given)
}

/// Stores `hash` as the password of `row` and moves its session epoch on (ending its
/// sessions), with the audit event, inside the caller's transaction; answers the new epoch.
async fn write_password<C: ConnectionTrait>(
    tx: &C,
    audit: &mut AuditWriter,
    actor: &Actor,
    row: &user::Model,
    hash: String,
) -> Result<i64, ServiceError> {
    let (tenant, department) = place_of(tx, row).await?;
    user::ActiveModel {
        id: Set(row.id),
        password_hash: Set(Some(hash)),
        session_epoch: Set(row.session_epoch + 1),
        ..Default::default()
    }
    .update(tx)
    .await?;
    audit
        .append(
            tx,
            actor,
            AuditRecord {
                action: "user.password".into(),
                level: Some("user".into()),
                scope: Some(row.slug.clone()),
                tenant,
                department,
                new_value: Some("password changed".into()),
                ..Default::default()
            },
        )
        .await?;
    Ok(row.session_epoch + 1)
}

/// Replaces a user's traits.
pub async fn set_traits(
    state: &AppState,
    actor: &Actor,
    slug: &Slug,
    traits: &BTreeSet<Trait>,
) -> Result<(), ServiceError> {
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    let row = user_row(&tx, slug).await?;
    if !write_traits(&tx, &mut audit, actor, &row, traits).await? {
        return Ok(());
    }
    audit.finish(&tx).await?;
    tx.commit().await?;
    // Traits are in no snapshot, but in verified tokens.
    state.tokens.invalidate();
    Ok(())
}

/// Replaces the traits of `row` with their audit event, inside the caller's transaction;
/// answers whether they changed.
async fn write_traits<C: ConnectionTrait>(
    tx: &C,
    audit: &mut AuditWriter,
    actor: &Actor,
    row: &user::Model,
    traits: &BTreeSet<Trait>,
) -> Result<bool, ServiceError> {
    let old: BTreeSet<String> = user_trait::Entity::find()
        .filter(user_trait::Column::UserId.eq(row.id))
        .all(tx)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let new: BTreeSet<String> = traits.iter().map(|t| t.as_str().to_owned()).collect();
    if old == new {
        return Ok(false);
    }
    let (tenant, department) = place_of(tx, row).await?;
    user_trait::Entity::delete_many()
        .filter(user_trait::Column::UserId.eq(row.id))
        .exec(tx)
        .await?;
    for t in &new {
        user_trait::ActiveModel {
            user_id: Set(row.id),
            name: Set(t.clone()),
        }
        .insert(tx)
        .await?;
    }
    audit
        .append(
            tx,
            actor,
            AuditRecord {
                action: "user.traits".into(),
                level: Some("user".into()),
                scope: Some(row.slug.clone()),
                tenant,
                department,
                old_value: Some(json!(old).to_string()),
                new_value: Some(json!(new).to_string()),
                ..Default::default()
            },
        )
        .await?;
    Ok(true)
}

/// Disables a user: they can no longer sign in; their configuration stays.
pub async fn disable(state: &AppState, actor: &Actor, slug: &Slug) -> Result<(), ServiceError> {
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    let row = user_row(&tx, slug).await?;
    if row.disabled {
        return Ok(());
    }
    let (tenant, department) = place_of(&tx, &row).await?;
    user::ActiveModel {
        id: Set(row.id),
        disabled: Set(true),
        session_epoch: Set(row.session_epoch + 1),
        ..Default::default()
    }
    .update(&tx)
    .await?;
    audit
        .append(
            &tx,
            actor,
            AuditRecord {
                action: "user.disable".into(),
                level: Some("user".into()),
                scope: Some(slug.to_string()),
                tenant,
                department,
                old_value: Some("enabled".into()),
                new_value: Some("disabled".into()),
                ..Default::default()
            },
        )
        .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    // Traits and the disabled flag are in no snapshot, but in verified tokens.
    state.tokens.invalidate();
    Ok(())
}

/// First start: when no enabled account holds `super_admin` with a password, creates `admin`
/// with `password` or a random one. Returns the generated password, to be shown once.
pub async fn ensure_super_admin(
    state: &AppState,
    password: Option<String>,
) -> Result<Option<String>, ServiceError> {
    if has_usable_super_admin(&state.db).await? {
        return Ok(None);
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let hash = hash_password(password.clone()).await?;
    let tx = state.db.begin().await?;
    // Asked again under the audit lock: replicas starting together on a new database see each
    // other's admin instead of creating it twice.
    let mut audit = AuditWriter::begin(&tx, Utc::now()).await?;
    if has_usable_super_admin(&tx).await? {
        return Ok(None);
    }
    let actor = Actor::named("system");
    let traits = BTreeSet::from([
        Trait::AdminCapable,
        Trait::SuperAdmin,
        Trait::ConfigWrite,
        Trait::SecretsRead,
    ]);
    let existing = user::Entity::find()
        .filter(user::Column::Slug.eq("admin"))
        .one(&tx)
        .await?;
    match existing {
        Some(row) => {
            write_password(&tx, &mut audit, &actor, &row, hash).await?;
            write_traits(&tx, &mut audit, &actor, &row, &traits).await?;
        }
        None => {
            let account = NewAccount {
                slug: Slug::parse("user", "admin").expect("valid slug"),
                name: "Administrator".into(),
                tenant: None,
                department: None,
                groups: vec![],
                traits,
            };
            insert_account(&tx, &mut audit, &actor, &account, hash).await?;
        }
    }
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(generated.then_some(password))
}

/// Whether an enabled account with a password holds `super_admin`.
async fn has_usable_super_admin<C: ConnectionTrait>(db: &C) -> Result<bool, sea_orm::DbErr> {
    let admins = user_trait::Entity::find()
        .filter(user_trait::Column::Name.eq(Trait::SuperAdmin.as_str()))
        .all(db)
        .await?;
    for a in admins {
        if let Some(u) = user::Entity::find_by_id(a.user_id).one(db).await?
            && !u.disabled
            && u.password_hash.is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_in_fifteen_minutes_start_a_cool_down() {
        let now = Utc::now();
        let minutes = |m: i64| now - Duration::minutes(m);
        assert_eq!(
            cool_down(&[minutes(1), minutes(2), minutes(3), minutes(4)], 5, now),
            None
        );
        let five = [minutes(14), minutes(10), minutes(3), minutes(2), minutes(1)];
        assert_eq!(cool_down(&five, 5, now), Some(Duration::minutes(1)));
        // The same five are nothing for a limit of fifty (one address is many people).
        assert_eq!(cool_down(&five, MAX_ADDRESS_FAILURES, now), None);
        // Failures older than the window do not count.
        let old = [minutes(20), minutes(10), minutes(3), minutes(2), minutes(1)];
        assert_eq!(cool_down(&old, 5, now), None);
        // With more than five, the cool-down lasts until only four remain in the window.
        let six = [
            minutes(14),
            minutes(12),
            minutes(10),
            minutes(3),
            minutes(2),
            minutes(1),
        ];
        assert_eq!(cool_down(&six, 5, now), Some(Duration::minutes(3)));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        assert_eq!(throttle_address("203.0.113.9"), "203.0.113.9");
        assert_eq!(
            throttle_address("2001:db8:1:2:aaaa::1"),
            throttle_address("2001:db8:1:2:bbbb::2")
        );
        assert_eq!(
            throttle_address("2001:db8:1:2:aaaa::1"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            throttle_address("2001:db8:1:2::1"),
            throttle_address("2001:db8:1:3::1")
        );
        assert_eq!(throttle_address("::ffff:203.0.113.9"), "203.0.113.9");
    }

    #[test]
    fn a_flood_of_refusals_is_audited_once_a_minute() {
        let limiter = SignInLimiter::default();
        assert!(limiter.first_refusal("alice", Some("10.0.0.1")));
        assert!(!limiter.first_refusal("alice", Some("10.0.0.1")));
        assert!(limiter.first_refusal("alice", Some("10.0.0.2")));
        assert!(limiter.first_refusal("bob", Some("10.0.0.1")));
    }

    #[test]
    fn passwords_are_argon2id_and_short_ones_are_refused() {
        assert!(
            check_password_strength("short")
                .unwrap_err()
                .to_string()
                .contains("at least 12")
        );
        let hash = argon2()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("correct horse"));
    }
}
