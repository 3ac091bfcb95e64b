//! Appending to and reading the audit chain. Every change writes its events through an
//! [`AuditWriter`] inside the change's own transaction, so a change and its audit commit or
//! roll back together.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::entity::{audit_event, audit_head, audit_secret, change};
use crate::domain::audit_chain::{self, AuditRecord, ChainBreak};
use crate::domain::change::Touched;
use crate::domain::level::Level;
use crate::domain::name::Slug;
use crate::domain::policy::EventPlace;

/// Who made a change, and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn named(name: impl Into<String>) -> Self {
        Actor {
            name: name.into(),
            ..Default::default()
        }
    }

    /// `name` acting from a client at `address` that calls itself `user_agent`.
    pub fn from_client(
        name: impl Into<String>,
        address: Option<ClientAddress>,
        user_agent: Option<&str>,
    ) -> Self {
        Actor {
            name: name.into(),
            client_ip: address.map(|a| a.0.to_string()),
            user_agent: user_agent.map(str::to_owned),
        }
    }
}

/// The client's address as this server trusts it: the peer's, or for a peer listed in
/// `STRATA_TRUSTED_PROXIES` the address that proxy forwarded. The server puts it into every
/// request's extensions, so the audit and the sign-in throttle see one address per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

/// Longest actor name the audit keeps: a name typed at sign-in is the client's choice.
pub const MAX_ACTOR_CHARS: usize = 64;
/// Longest user agent the audit keeps.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// What a client sent, as the audit keeps it: control characters (line breaks, escapes) become
/// `\u{fffd}`, and text longer than `max` characters is cut and ends in `…`.
pub fn bounded(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.pop();
        out.push('…');
    }
    out
}

/// The open end of the chain within one transaction, and what the transaction's events touch:
/// when it touches anything, finishing gives the change its revision.
pub struct AuditWriter {
    last_id: i64,
    last_hash: String,
    revision: i64,
    at: String,
    touched: Touched,
    /// Events (and their ciphertexts) appended but not yet written: only a writer made
    /// [`Self::buffered`] holds any, and writes them many rows per statement.
    pending: Vec<audit_event::ActiveModel>,
    pending_secrets: Vec<audit_secret::ActiveModel>,
    buffered: bool,
}

/// Rows per statement when a buffered writer writes its events: within the bind-parameter
/// limits of SQLite (32,766) and PostgreSQL (65,535) at 20 columns.
const AUDIT_BATCH: usize = 1000;

impl AuditWriter {
    /// Locks the chain's head for this transaction. Call it first: on SQLite the update takes
    /// the write lock before anything is read, on PostgreSQL it serialises appenders.
    pub async fn begin<C: ConnectionTrait>(
        tx: &C,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, DbErr> {
        tx.execute_unprepared("UPDATE audit_head SET last_id = last_id WHERE id = 1")
            .await?;
        let head = audit_head::Entity::find_by_id(1)
            .one(tx)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the audit head row is missing".into()))?;
        Ok(AuditWriter {
            last_id: head.last_id,
            last_hash: head.last_hash,
            revision: head.revision,
            at: now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            touched: Touched::default(),
            pending: Vec::new(),
            pending_secrets: Vec::new(),
            buffered: false,
        })
    }

    /// Writes events in batches rather than one statement each (bulk imports): their rows
    /// appear in the database only as each batch fills, and all of them by [`Self::finish`].
    /// Nothing may read the appended events back before then.
    pub fn buffered(mut self) -> Self {
        self.buffered = true;
        self
    }

    async fn flush<C: ConnectionTrait>(&mut self, tx: &C) -> Result<(), DbErr> {
        if !self.pending.is_empty() {
            audit_event::Entity::insert_many(std::mem::take(&mut self.pending))
                .exec_without_returning(tx)
                .await?;
        }
        // After their events, which they refer to.
        for chunk in std::mem::take(&mut self.pending_secrets).chunks(AUDIT_BATCH) {
            audit_secret::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(tx)
                .await?;
        }
        Ok(())
    }

    /// Appends one event (its id and time are assigned here) and returns its id.
    pub async fn append<C: ConnectionTrait>(
        &mut self,
        tx: &C,
        actor: &Actor,
        mut record: AuditRecord,
    ) -> Result<i64, DbErr> {
        record.id = self.last_id + 1;
        record.at.clone_from(&self.at);
        self.touched.merge(Touched::of(&record));
        // What a client says about itself (a name typed at sign-in, its user agent) is kept
        // only within bounds, whatever the entry point.
        record.actor = bounded(&actor.name, MAX_ACTOR_CHARS);
        record.client_ip.clone_from(&actor.client_ip);
        record.user_agent = actor
            .user_agent
            .as_deref()
            .map(|agent| bounded(agent, MAX_USER_AGENT_CHARS));
        // Ciphertexts are kept beside the chain, not in it: the masked fingerprints in
        // old_value/new_value already commit to the values, and a master key rotation must be
        // able to re-encrypt what a revert needs without editing a hashed row.
        let sealed = [
            ("old", record.old_ciphertext.take()),
            ("new", record.new_ciphertext.take()),
        ];
        let hash = record.hash(&self.last_hash);
        let model = audit_event::ActiveModel {
            id: Set(record.id),
            at: Set(record.at),
            actor: Set(record.actor),
            action: Set(record.action),
            level: Set(record.level),
            scope: Set(record.scope),
            tenant: Set(record.tenant),
            department: Set(record.department),
            key: Set(record.key),
            old_value: Set(record.old_value),
            new_value: Set(record.new_value),
            old_locked: Set(record.old_locked),
            new_locked: Set(record.new_locked),
            old_ciphertext: Set(record.old_ciphertext),
            new_ciphertext: Set(record.new_ciphertext),
            reason: Set(record.reason),
            batch_id: Set(record.batch_id),
            client_ip: Set(record.client_ip),
            user_agent: Set(record.user_agent),
            prev_hash: Set(self.last_hash.clone()),
            hash: Set(hash.clone()),
        };
        let secrets = sealed.into_iter().filter_map(|(side, ciphertext)| {
            Some(audit_secret::ActiveModel {
                event_id: Set(record.id),
                side: Set(side.into()),
                ciphertext: Set(ciphertext?),
            })
        });
        if self.buffered {
            self.pending.push(model);
            self.pending_secrets.extend(secrets);
            if self.pending.len() >= AUDIT_BATCH {
                self.flush(tx).await?;
            }
        } else {
            audit_event::Entity::insert(model)
                .exec_without_returning(tx)
                .await?;
            for secret in secrets {
                audit_secret::Entity::insert(secret)
                    .exec_without_returning(tx)
                    .await?;
            }
        }
        self.last_id += 1;
        self.last_hash = hash;
        Ok(self.last_id)
    }

    /// Records the new head and, when the events touched anything, the change with its
    /// revision (the change feed every replica follows); call it before committing.
    pub async fn finish<C: ConnectionTrait>(mut self, tx: &C) -> Result<i64, DbErr> {
        self.flush(tx).await?;
        let mut revision = self.revision;
        if !self.touched.is_empty() {
            revision += 1;
            change::Entity::insert(change::ActiveModel {
                revision: Set(revision),
                at: Set(self.at.clone()),
                touched: Set(serde_json::to_string(&self.touched).unwrap_or_default()),
            })
            .exec_without_returning(tx)
            .await?;
            // Delivered to the other replicas when (and only if) this transaction commits.
            if tx.get_database_backend() == sea_orm::DbBackend::Postgres {
                tx.execute_unprepared(&format!("NOTIFY {}, '{revision}'", super::feed::CHANNEL))
                    .await?;
            }
        }
        audit_head::Entity::update(audit_head::ActiveModel {
            id: Set(1),
            last_id: Set(self.last_id),
            last_hash: Set(self.last_hash),
            revision: Set(revision),
        })
        .exec(tx)
        .await?;
        Ok(self.last_id)
    }
}

/// Appends one event in a transaction of its own, for events that accompany no other change
/// (sign-ins, secret reveals).
pub async fn record(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    record: AuditRecord,
) -> Result<i64, DbErr> {
    use sea_orm::TransactionTrait;
    let tx = db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, chrono::Utc::now()).await?;
    let id = audit.append(&tx, actor, record).await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    Ok(id)
}

/// The ciphertext of the value event `event` replaced (`side` "old") or wrote ("new"), where
/// the event kept one: beside the chain, or in the event row itself for events written before
/// ciphertexts moved out of it.
pub async fn sealed_value<C: ConnectionTrait>(
    db: &C,
    event: &audit_event::Model,
    side: &str,
) -> Result<Option<String>, DbErr> {
    let kept = audit_secret::Entity::find_by_id((event.id, side.to_owned()))
        .one(db)
        .await?;
    Ok(match kept {
        Some(row) => Some(row.ciphertext),
        None if side == "old" => event.old_ciphertext.clone(),
        None => event.new_ciphertext.clone(),
    })
}

/// An event as listed (CLI, API, console).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub level: Option<String>,
    pub scope: Option<String>,
    pub tenant: Option<String>,
    pub department: Option<String>,
    pub key: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub old_locked: Option<bool>,
    pub new_locked: Option<bool>,
    pub reason: Option<String>,
    pub batch_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Events about an account signing in or using a credential. They are filed at the user
/// level of the account (its tenant and department), so only its admins see them; one naming
/// no account belongs to no tenant and is for super admins only.
pub const SIGN_IN_ACTIONS: [&str; 4] = [
    "login.success",
    "login.failure",
    "login.throttled",
    "token.revoked_use",
];

/// Where an event happened, as the policy sees it (who may read the event). Sign-in events
/// written before they carried a level count as user-level events.
pub fn place(
    action: &str,
    level: Option<&str>,
    tenant: Option<&str>,
    department: Option<&str>,
) -> EventPlace {
    let slug = |s: Option<&str>| s.and_then(|v| Slug::parse("id", v).ok());
    let level = match level {
        Some(l) => l.parse::<Level>().ok(),
        None if SIGN_IN_ACTIONS.contains(&action) => Some(Level::User),
        None => None,
    };
    EventPlace {
        level,
        tenant: slug(tenant),
        department: slug(department),
    }
}

impl From<AuditEntry> for crate::views::AuditLine {
    fn from(e: AuditEntry) -> Self {
        crate::views::AuditLine {
            revertable: super::revert::ENTRY_ACTIONS.contains(&e.action.as_str()),
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            level: e.level,
            scope: e.scope,
            key: e.key,
            old_value: e.old_value,
            new_value: e.new_value,
            old_locked: e.old_locked,
            new_locked: e.new_locked,
            reason: e.reason,
            batch_id: e.batch_id,
        }
    }
}

impl AuditEntry {
    pub fn place(&self) -> EventPlace {
        place(
            &self.action,
            self.level.as_deref(),
            self.tenant.as_deref(),
            self.department.as_deref(),
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant: Option<String>,
    /// `global`, `tenant`, `department`, `group` or `user`.
    pub level: Option<String>,
    pub key_prefix: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// RFC 3339 times, compared as stored (UTC, fixed width).
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<u64>,
    pub before_id: Option<i64>,
    /// Actions to leave out.
    pub exclude_actions: Vec<String>,
    /// Set by [`browse`] from the policy's `event_reach`: `Some(Some(t))` keeps tenant `t`'s
    /// and platform-wide events, `Some(None)` platform-wide ones only.
    pub reach: Option<Option<String>>,
}

/// Events newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, DbErr> {
    let mut query = audit_event::Entity::find().order_by_desc(audit_event::Column::Id);
    if let Some(tenant) = &filter.tenant {
        query = query.filter(audit_event::Column::Tenant.eq(tenant.as_str()));
    }
    if let Some(level) = &filter.level {
        query = query.filter(audit_event::Column::Level.eq(level.as_str()));
    }
    if let Some(prefix) = &filter.key_prefix {
        query = query.filter(audit_event::Column::Key.starts_with(prefix.as_str()));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_event::Column::Actor.eq(actor.as_str()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if !filter.exclude_actions.is_empty() {
        query = query.filter(audit_event::Column::Action.is_not_in(filter.exclude_actions.clone()));
    }
    if let Some(since) = &filter.since {
        query = query.filter(audit_event::Column::At.gte(since.as_str()));
    }
    if let Some(until) = &filter.until {
        query = query.filter(audit_event::Column::At.lt(until.as_str()));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    if let Some(reach) = &filter.reach {
        let platform = audit_event::Column::Tenant.is_null();
        query = query.filter(match reach {
            Some(t) => sea_orm::Condition::any()
                .add(platform)
                .add(audit_event::Column::Tenant.eq(t.as_str())),
            None => sea_orm::Condition::all().add(platform),
        });
    }
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|m| AuditEntry {
            id: m.id,
            at: m.at,
            actor: m.actor,
            action: m.action,
            level: m.level,
            scope: m.scope,
            tenant: m.tenant,
            department: m.department,
            key: m.key,
            old_value: m.old_value,
            new_value: m.new_value,
            old_locked: m.old_locked,
            new_locked: m.new_locked,
            reason: m.reason,
            batch_id: m.batch_id,
            client_ip: m.client_ip,
            user_agent: m.user_agent,
        })
        .collect())
}

/// Walks the whole chain in id order against the recorded head.
pub async fn verify<C: ConnectionTrait>(db: &C) -> Result<Result<usize, ChainBreak>, DbErr> {
    let head = audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the audit head row is missing".into()))?;
    let events = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Id)
        .all(db)
        .await?;
    let records: Vec<(AuditRecord, String, String)> = events
        .into_iter()
        .map(|m| {
            (
                AuditRecord {
                    id: m.id,
                    at: m.at,
                    actor: m.actor,
                    action: m.action,
                    level: m.level,
                    scope: m.scope,
                    tenant: m.tenant,
                    department: m.department,
                    key: m.key,
                    old_value: m.old_value,
                    new_value: m.new_value,
                    old_locked: m.old_locked,
                    new_locked: m.new_locked,
                    old_ciphertext: m.old_ciphertext,
                    new_ciphertext: m.new_ciphertext,
                    reason: m.reason,
                    batch_id: m.batch_id,
                    client_ip: m.client_ip,
                    user_agent: m.user_agent,
                },
                m.prev_hash,
                m.hash,
            )
        })
        .collect();
    Ok(audit_chain::verify(
        records.iter().map(|(r, p, h)| (r, p.as_str(), h.as_str())),
        (head.last_id, &head.last_hash),
    ))
}

/// Events newest first that `visible` lets through, at most `limit`, reading in pages so that
/// filtering by visibility still fills a page; also the id to continue before when the page
/// is full.
pub async fn list_visible<C: ConnectionTrait>(
    db: &C,
    filter: &AuditFilter,
    limit: usize,
    visible: impl Fn(&AuditEntry) -> bool,
) -> Result<(Vec<AuditEntry>, Option<i64>), DbErr> {
    let mut out = Vec::with_capacity(limit);
    let mut page = AuditFilter {
        limit: Some((limit as u64).max(50) * 2),
        ..filter.clone()
    };
    loop {
        let batch = list(db, &page).await?;
        let exhausted = batch.len() < page.limit.unwrap_or(0) as usize;
        for event in batch {
            page.before_id = Some(event.id);
            if visible(&event) {
                out.push(event);
                if out.len() == limit {
                    // More may follow; a request from here answers empty if none do.
                    let next = out.last().map(|e| e.id);
                    return Ok((out, next));
                }
            }
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}

/// The events `principal` may see (DESIGN §4), newest first, and where the next page starts.
pub async fn browse<C: ConnectionTrait>(
    db: &C,
    principal: &crate::domain::policy::Principal,
    filter: &AuditFilter,
    limit: usize,
) -> Result<(Vec<AuditEntry>, Option<i64>), DbErr> {
    use crate::domain::policy::{Action, decide, event_reach};
    // Events of tenants the principal cannot see are skipped in SQL, so a filter that matches
    // only those does not walk the whole table.
    let filter = AuditFilter {
        reach: event_reach(principal).map(|t| t.map(|t| t.to_string())),
        ..filter.clone()
    };
    list_visible(db, &filter, limit, |event| {
        decide(principal, &Action::ReadEvent(&event.place())).is_allowed()
    })
    .await
}

/// A time filter of the HTTP API as stored (UTC, fixed width): RFC 3339 only, as its document
/// says (`format: date-time`).
pub fn parse_rfc3339(name: &str, value: Option<&str>) -> Result<Option<String>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let parsed = chrono::DateTime::parse_from_rfc3339(value).map_err(|_| {
        format!("{name}: expected an RFC 3339 time like 2026-11-22T09:30:00Z, got {value:?}")
    })?;
    Ok(Some(
        parsed
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
    ))
}

/// A time filter as stored (UTC, fixed width), from RFC 3339 or a form's
/// `YYYY-MM-DDTHH:MM[:SS]` (taken as UTC).
pub fn parse_time(name: &str, value: Option<&str>) -> Result<Option<String>, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let parsed = chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M"))
                .map(|t| t.and_utc())
        })
        .map_err(|_| format!("{name}: expected a time like 2026-11-22T09:30:00Z, got {value:?}"))?;
    Ok(Some(parsed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()))
}
