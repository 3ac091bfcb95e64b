//! Master key rotation: every stored secret (entry values, key defaults, the old and new
//! values the audit keeps for reverts, the values change requests hold) is sealed again under
//! the active master key, in one transaction, so the keys in `STRATA_OLD_MASTER_KEYS` can be
//! removed afterwards. Values and entry versions do not change; the rotation is one audited
//! event.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;

use super::AppState;
use super::audit::{Actor, AuditWriter};
use super::entity::{audit_event, audit_secret, config_key, entry};
use super::error::ServiceError;
use crate::domain::audit_chain::AuditRecord;

/// What a rotation re-sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rotation {
    /// The id of the master key everything is sealed with now.
    pub key: String,
    pub entries: usize,
    pub key_defaults: usize,
    /// Old and new values the audit keeps for reverts.
    pub audit_values: usize,
    /// Change requests holding sensitive values (proposed, or the entries they were made
    /// against).
    pub change_requests: usize,
}

fn unreadable(what: String, err: super::crypto::CryptoError) -> ServiceError {
    ServiceError::Invalid(format!(
        "{what} cannot be opened ({err}); configure the key it was sealed with in STRATA_OLD_MASTER_KEYS"
    ))
}

/// Re-seals every stored secret not yet under the active master key.
pub async fn rotate_master_key(state: &AppState, actor: &Actor) -> Result<Rotation, ServiceError> {
    let secrets = &state.secrets;
    let tx = state.db.begin().await?;
    let mut audit = AuditWriter::begin(&tx, chrono::Utc::now()).await?;
    let mut done = Rotation {
        key: secrets.active_key_id().to_owned(),
        ..Default::default()
    };
    let keys: std::collections::HashMap<i64, config_key::Model> = config_key::Entity::find()
        .all(&tx)
        .await?
        .into_iter()
        .map(|k| (k.id, k))
        .collect();

    for row in entry::Entity::find()
        .filter(entry::Column::Encrypted.eq(true))
        .all(&tx)
        .await?
    {
        if secrets.is_current(&row.value) {
            continue;
        }
        let name = keys
            .get(&row.key_id)
            .map(|k| k.name.clone())
            .ok_or_else(|| ServiceError::Invalid(format!("entry {} has no key", row.id)))?;
        let value = secrets
            .reseal(&name, &row.value)
            .map_err(|e| unreadable(format!("entry {} ({name})", row.id), e))?;
        entry::ActiveModel {
            id: Set(row.id),
            value: Set(value),
            ..Default::default()
        }
        .update(&tx)
        .await?;
        done.entries += 1;
    }

    for key in keys.values().filter(|k| k.default_encrypted) {
        let Some(sealed) = key.default_value.as_deref() else {
            continue;
        };
        if secrets.is_current(sealed) {
            continue;
        }
        let value = secrets
            .reseal(&key.name, sealed)
            .map_err(|e| unreadable(format!("the default of key {}", key.name), e))?;
        config_key::ActiveModel {
            id: Set(key.id),
            default_value: Set(Some(value)),
            ..Default::default()
        }
        .update(&tx)
        .await?;
        done.key_defaults += 1;
    }

    // Values kept beside the chain are re-sealed in place.
    for kept in audit_secret::Entity::find().all(&tx).await? {
        if secrets.is_current(&kept.ciphertext) {
            continue;
        }
        let event = audit_event::Entity::find_by_id(kept.event_id)
            .one(&tx)
            .await?;
        let name = event.and_then(|e| e.key).ok_or_else(|| {
            ServiceError::Invalid(format!("audit event {} names no key", kept.event_id))
        })?;
        let ciphertext = secrets
            .reseal(&name, &kept.ciphertext)
            .map_err(|e| unreadable(format!("a value kept by audit event {}", kept.event_id), e))?;
        audit_secret::ActiveModel {
            event_id: Set(kept.event_id),
            side: Set(kept.side.clone()),
            ciphertext: Set(ciphertext),
        }
        .update(&tx)
        .await?;
        done.audit_values += 1;
    }
    // Events written before values moved beside the chain hold them in hashed columns, which
    // stay as they are (the chain must verify); a re-sealed copy beside the chain is what
    // reverts read from now on.
    let legacy = audit_event::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(audit_event::Column::OldCiphertext.is_not_null())
                .add(audit_event::Column::NewCiphertext.is_not_null()),
        )
        .all(&tx)
        .await?;
    for event in legacy {
        for (side, sealed) in [
            ("old", &event.old_ciphertext),
            ("new", &event.new_ciphertext),
        ] {
            let Some(sealed) = sealed else { continue };
            let kept = audit_secret::Entity::find_by_id((event.id, side.to_owned()))
                .one(&tx)
                .await?;
            if kept.is_some() {
                continue;
            }
            let name = event.key.clone().ok_or_else(|| {
                ServiceError::Invalid(format!("audit event {} names no key", event.id))
            })?;
            let ciphertext = secrets
                .reseal(&name, sealed)
                .map_err(|e| unreadable(format!("a value kept by audit event {}", event.id), e))?;
            audit_secret::Entity::insert(audit_secret::ActiveModel {
                event_id: Set(event.id),
                side: Set(side.into()),
                ciphertext: Set(ciphertext),
            })
            .exec_without_returning(&tx)
            .await?;
            done.audit_values += 1;
        }
    }

    done.change_requests = super::changes::reseal(&tx, secrets).await?;

    audit
        .append(
            &tx,
            actor,
            AuditRecord {
                action: "master_key.rotate".into(),
                new_value: Some(json!(done).to_string()),
                ..Default::default()
            },
        )
        .await?;
    audit.finish(&tx).await?;
    tx.commit().await?;
    state.publish().await;
    Ok(done)
}
