//! The audit chain (DESIGN §4).
//!
//! Rule: each event stores the hash of the event before it (`prev_hash`; the first event's
//! predecessor is [`GENESIS`]) and its own `hash` = SHA-256 over `prev_hash` and the event's
//! canonical content. The chain is intact when, in id order, every `prev_hash` equals the
//! previous event's `hash`, every `hash` matches a recomputation, and the last hash equals the
//! recorded head. Editing an event breaks its own hash; deleting one breaks its successor's
//! `prev_hash` (or, for the last event, the head).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The predecessor of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Everything an event records, as stored; the hash covers all of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    /// RFC 3339 UTC with microseconds, e.g. `2026-11-22T06:40:00.123456Z`.
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
    pub old_ciphertext: Option<String>,
    pub new_ciphertext: Option<String>,
    pub reason: Option<String>,
    pub batch_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl AuditRecord {
    /// The event's hash given its predecessor's.
    pub fn hash(&self, prev_hash: &str) -> String {
        // A JSON array in fixed field order is an unambiguous encoding of the content.
        let content = serde_json::json!([
            self.id,
            self.at,
            self.actor,
            self.action,
            self.level,
            self.scope,
            self.tenant,
            self.department,
            self.key,
            self.old_value,
            self.new_value,
            self.old_locked,
            self.new_locked,
            self.old_ciphertext,
            self.new_ciphertext,
            self.reason,
            self.batch_id,
            self.client_ip,
            self.user_agent,
        ]);
        let mut hasher = Sha256::new();
        hasher.update(prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(content.to_string().as_bytes());
        hex(&hasher.finalize())
    }
}

/// Where a chain first stops adding up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("event {id} does not follow the event before it (one was deleted or reordered)")]
    Unlinked { id: i64 },
    #[error("event {id} was changed after it was written")]
    Altered { id: i64 },
    #[error(
        "the chain ends at event {last_id} but its head records event {head_id}: events were deleted"
    )]
    Truncated { last_id: i64, head_id: i64 },
}

impl ChainBreak {
    /// The first event that does not add up.
    pub fn first_broken(&self) -> i64 {
        match self {
            ChainBreak::Unlinked { id } | ChainBreak::Altered { id } => *id,
            ChainBreak::Truncated { last_id, .. } => last_id + 1,
        }
    }
}

/// Checks events in id order against the recorded head; returns how many were checked.
pub fn verify<'a>(
    events: impl IntoIterator<Item = (&'a AuditRecord, &'a str, &'a str)>,
    head: (i64, &str),
) -> Result<usize, ChainBreak> {
    let mut expected_prev = GENESIS.to_owned();
    let mut last_id = 0;
    let mut count = 0;
    for (record, prev_hash, hash) in events {
        if prev_hash != expected_prev {
            return Err(ChainBreak::Unlinked { id: record.id });
        }
        if record.hash(prev_hash) != hash {
            return Err(ChainBreak::Altered { id: record.id });
        }
        expected_prev = hash.to_owned();
        last_id = record.id;
        count += 1;
    }
    let (head_id, head_hash) = head;
    if head_id != last_id || head_hash != expected_prev {
        return Err(ChainBreak::Truncated { last_id, head_id });
    }
    Ok(count)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditRecord, String, String)> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|id| {
                let record = AuditRecord {
                    id,
                    at: format!("2026-11-22T06:40:0{id}.000000Z"),
                    actor: "root".into(),
                    action: "entry.set".into(),
                    key: Some("fax.provider".into()),
                    new_value: Some(format!("\"v{id}\"")),
                    ..Default::default()
                };
                let hash = record.hash(&prev);
                let out = (record, prev.clone(), hash.clone());
                prev = hash;
                out
            })
            .collect()
    }

    fn check(
        events: &[(AuditRecord, String, String)],
        head: (i64, &str),
    ) -> Result<usize, ChainBreak> {
        verify(
            events.iter().map(|(r, p, h)| (r, p.as_str(), h.as_str())),
            head,
        )
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let events = chain(4);
        let head = events.last().unwrap().2.clone();
        assert_eq!(check(&events, (4, &head)), Ok(4));
        assert_eq!(check(&[], (0, GENESIS)), Ok(0));
    }

    #[test]
    fn an_edited_event_is_found() {
        let mut events = chain(4);
        let head = events.last().unwrap().2.clone();
        events[1].0.new_value = Some("\"forged\"".into());
        assert_eq!(
            check(&events, (4, &head)),
            Err(ChainBreak::Altered { id: 2 })
        );
        let mut events = chain(4);
        events[2].0.reason = Some("added later".into());
        assert_eq!(check(&events, (4, &head)).unwrap_err().first_broken(), 3);
    }

    #[test]
    fn a_deleted_event_is_found() {
        let mut events = chain(4);
        let head = events.last().unwrap().2.clone();
        events.remove(1);
        assert_eq!(
            check(&events, (4, &head)),
            Err(ChainBreak::Unlinked { id: 3 })
        );
        let mut events = chain(4);
        events.pop();
        assert_eq!(
            check(&events, (4, &head)),
            Err(ChainBreak::Truncated {
                last_id: 3,
                head_id: 4
            })
        );
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = chain(1).remove(0).0;
        let variants: Vec<AuditRecord> = vec![
            AuditRecord {
                at: "x".into(),
                ..base.clone()
            },
            AuditRecord {
                actor: "x".into(),
                ..base.clone()
            },
            AuditRecord {
                action: "x".into(),
                ..base.clone()
            },
            AuditRecord {
                level: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                scope: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                tenant: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                department: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                key: None,
                ..base.clone()
            },
            AuditRecord {
                old_value: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                new_value: None,
                ..base.clone()
            },
            AuditRecord {
                old_locked: Some(true),
                ..base.clone()
            },
            AuditRecord {
                new_locked: Some(false),
                ..base.clone()
            },
            AuditRecord {
                old_ciphertext: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                new_ciphertext: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                reason: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                batch_id: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                client_ip: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                user_agent: Some("x".into()),
                ..base.clone()
            },
            AuditRecord {
                id: 2,
                ..base.clone()
            },
        ];
        let original = base.hash(GENESIS);
        for v in variants {
            assert_ne!(v.hash(GENESIS), original, "{v:?}");
        }
    }
}
