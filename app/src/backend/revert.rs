//! Reverting an entry change from its audit event (DESIGN §4): the entry goes back to the
//! event's old state through [`super::entries::set_entry`] or `unset_entry`, as a new audited
//! change. It is refused with a conflict when a later event touched the same entry, since the
//! revert would then overwrite a change its author has not seen.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use super::AppState;
use super::audit::Actor;
use super::entity::audit_event;
use super::entries::{self, EntryView, SetEntry, find_entry, find_key, read_stored, scope_ids};
use super::error::ServiceError;
use crate::domain::level::Level;
use crate::domain::name::ConfigKey;
use crate::domain::policy::EventPlace;
use crate::domain::scope::Scope;
use crate::domain::value::MASK;

/// The entry changes an event can be reverted from.
pub const ENTRY_ACTIONS: [&str; 4] = ["entry.set", "entry.lock", "entry.unlock", "entry.unset"];

/// What reverting one event would do.
#[derive(Debug, Clone)]
pub struct Revert {
    pub event_id: i64,
    pub key: ConfigKey,
    pub scope: Scope,
    /// Where the event happened (who may see it).
    pub place: EventPlace,
    /// The value and lock to restore; `None` when the event created the entry, which the
    /// revert then removes.
    pub restore: Option<(Value, bool)>,
}

fn corrupt(event_id: i64, what: &str) -> ServiceError {
    ServiceError::Database(sea_orm::DbErr::Custom(format!(
        "audit event {event_id}: {what}"
    )))
}

/// Where event `event_id` happened, so that whether the caller may see it is asked before
/// anything else about it is said.
pub async fn place(state: &AppState, event_id: i64) -> Result<EventPlace, ServiceError> {
    let row = audit_event::Entity::find_by_id(event_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("audit event {event_id} was not found")))?;
    Ok(super::audit::place(
        &row.action,
        row.level.as_deref(),
        row.tenant.as_deref(),
        row.department.as_deref(),
    ))
}

/// Reads event `event_id` and works out the state it replaced.
pub async fn plan(state: &AppState, event_id: i64) -> Result<Revert, ServiceError> {
    let row = audit_event::Entity::find_by_id(event_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("audit event {event_id} was not found")))?;
    let place = super::audit::place(
        &row.action,
        row.level.as_deref(),
        row.tenant.as_deref(),
        row.department.as_deref(),
    );
    if !ENTRY_ACTIONS.contains(&row.action.as_str()) {
        return Err(ServiceError::Invalid(format!(
            "id: event {event_id} ({}) is not an entry change; only entry changes can be reverted",
            row.action
        )));
    }
    let key = row
        .key
        .as_deref()
        .and_then(|k| ConfigKey::parse(k).ok())
        .ok_or_else(|| corrupt(event_id, "no key"))?;
    let level = place.level.ok_or_else(|| corrupt(event_id, "no level"))?;
    let scope: Scope = match (&level, &row.scope) {
        (Level::Global, _) => Scope::Global,
        (level, Some(id)) => format!("{}:{id}", level.as_str())
            .parse()
            .map_err(|_| corrupt(event_id, "unreadable scope"))?,
        (_, None) => return Err(corrupt(event_id, "no scope")),
    };
    let sealed = super::audit::sealed_value(&state.db, &row, "old").await?;
    let restore = match (&row.old_value, &sealed) {
        (None, _) => None,
        (Some(_), Some(sealed)) => Some(
            read_stored(&state.secrets, key.as_str(), sealed, true)
                .map_err(|e| corrupt(event_id, &e))?,
        ),
        (Some(text), None) if text.starts_with(MASK) => {
            return Err(ServiceError::Invalid(format!(
                "id: event {event_id} did not keep the old secret, so it cannot be restored"
            )));
        }
        (Some(text), None) => Some(
            serde_json::from_str(text).map_err(|_| corrupt(event_id, "unreadable old value"))?,
        ),
    }
    .map(|value| (value, row.old_locked.unwrap_or(false)));
    Ok(Revert {
        event_id,
        key,
        scope,
        place,
        restore,
    })
}

/// Applies `revert`. Answers the entry as restored, or `None` when it was removed.
pub async fn apply(
    state: &AppState,
    actor: &Actor,
    revert: &Revert,
    reason: Option<String>,
) -> Result<Option<EntryView>, ServiceError> {
    let (key_id, def) = find_key(&state.db, &state.secrets, &revert.key).await?;
    let ids = scope_ids(&state.db, &revert.scope).await?;
    let current = find_entry(&state.db, key_id, &revert.scope, &ids).await?;
    let mut later = audit_event::Entity::find()
        .filter(audit_event::Column::Id.gt(revert.event_id))
        .filter(audit_event::Column::Key.eq(revert.key.as_str()))
        .filter(audit_event::Column::Level.eq(revert.scope.level().as_str()))
        .filter(audit_event::Column::Action.is_in(ENTRY_ACTIONS));
    later = match revert.scope.id() {
        Some(id) => later.filter(audit_event::Column::Scope.eq(id)),
        None => later.filter(audit_event::Column::Scope.is_null()),
    };
    if let Some(newer) = later
        .order_by_desc(audit_event::Column::Id)
        .one(&state.db)
        .await?
    {
        let current = match &current {
            Some(row) => {
                let value =
                    read_stored(&state.secrets, def.key.as_str(), &row.value, row.encrypted)
                        .map_err(|e| corrupt(revert.event_id, &e))?;
                Some(Box::new(entries::view(&def, &value, row, false)))
            }
            None => None,
        };
        return Err(ServiceError::Conflict {
            message: format!(
                "{} at {} changed since event {} (last by event {}); look at its current value first",
                revert.key, revert.scope, revert.event_id, newer.id
            ),
            current,
        });
    }
    let version = current.as_ref().map_or(0, |row| row.version);
    let reason = Some(match reason.filter(|r| !r.trim().is_empty()) {
        Some(r) => format!("revert of event {}: {r}", revert.event_id),
        None => format!("revert of event {}", revert.event_id),
    });
    match &revert.restore {
        Some((value, locked)) => {
            let request = SetEntry {
                key: revert.key.clone(),
                scope: revert.scope.clone(),
                value: value.clone(),
                locked: Some(*locked),
                expect_version: Some(version),
                reason,
            };
            Ok(Some(entries::set_entry(state, actor, request).await?))
        }
        None => {
            entries::unset_entry(
                state,
                actor,
                &revert.key,
                &revert.scope,
                Some(version),
                reason,
            )
            .await?;
            Ok(None)
        }
    }
}
