//! What the approval policy looks at in a document's changes (imports, template edits,
//! directory writes): the same places a direct entry write is checked at, so none of these
//! entry points goes round the policy.
//!
//! Rule: an entry created or changed lands at its scope (level, the tenant it lies in, the
//! key's sensitivity). A template entry set or removed lands at the template's level in every
//! tenant whose scopes follow the template, read when the whole document has been written (a
//! scope that starts following it in the same document counts); a template nobody follows
//! reaches no one and lands nowhere. A scope that starts or stops following a template takes
//! or loses that template's entries: they land at the scope.

use std::collections::{BTreeSet, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::super::entity::{config_key, department, group, template_entry, tenant};
use super::super::error::ServiceError;
use crate::domain::approval::OpPlace;
use crate::domain::level::Level;
use crate::domain::name::Slug;

/// The places collected while a document is written, for one look at the policy before it
/// commits.
#[derive(Debug, Default)]
pub(super) struct Review {
    places: HashSet<OpPlace>,
    /// Templates whose entries changed: (id, level, sensitive).
    templates: HashSet<(i64, Level, bool)>,
    /// Scopes whose template changed: (level, tenant, templates left and taken).
    switches: Vec<(Level, Slug, [Option<i64>; 2])>,
}

impl Review {
    pub(super) fn entry(&mut self, place: OpPlace) {
        self.places.insert(place);
    }

    pub(super) fn template_entry(&mut self, template: i64, level: Level, sensitive: bool) {
        self.templates.insert((template, level, sensitive));
    }

    /// A scope at `level` in `tenant` left template `from` for `to` (either may be none).
    pub(super) fn switch(
        &mut self,
        level: Level,
        tenant: &Slug,
        from: Option<i64>,
        to: Option<i64>,
    ) {
        if from != to {
            self.switches.push((level, tenant.clone(), [from, to]));
        }
    }

    /// Whether a template edit is among the changes (the way to propose it differs).
    pub(super) fn has_template_edits(&self) -> bool {
        !self.templates.is_empty()
    }

    /// Every place the document's changes land, reading followers and template entries
    /// through `db` (inside the write's transaction, so they are as the document leaves them).
    pub(super) async fn places<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<Vec<OpPlace>, ServiceError> {
        let Review {
            mut places,
            templates,
            switches,
        } = self;
        for (template, level, sensitive) in templates {
            for tenant in follower_tenants(db, template).await? {
                places.insert(OpPlace {
                    level,
                    tenant: Some(tenant),
                    sensitive,
                });
            }
        }
        for (level, tenant, ids) in switches {
            let ids: Vec<i64> = ids.into_iter().flatten().collect();
            for sensitive in entry_sensitivity(db, &ids).await? {
                places.insert(OpPlace {
                    level,
                    tenant: Some(tenant.clone()),
                    sensitive,
                });
            }
        }
        Ok(places.into_iter().collect())
    }
}

/// The tenants in which some tenant, department or group follows template `id`.
async fn follower_tenants<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<BTreeSet<Slug>, ServiceError> {
    let mut tenant_ids: BTreeSet<i64> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .filter(tenant::Column::TemplateId.eq(id))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    tenant_ids.extend(
        department::Entity::find()
            .select_only()
            .column(department::Column::TenantId)
            .filter(department::Column::TemplateId.eq(id))
            .into_tuple::<i64>()
            .all(db)
            .await?,
    );
    tenant_ids.extend(
        group::Entity::find()
            .select_only()
            .column(group::Column::TenantId)
            .filter(group::Column::TemplateId.eq(id))
            .into_tuple::<i64>()
            .all(db)
            .await?,
    );
    if tenant_ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let slugs = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Slug)
        .filter(tenant::Column::Id.is_in(tenant_ids))
        .into_tuple::<String>()
        .all(db)
        .await?;
    // A slug that does not parse names no tenant a rule could name.
    Ok(slugs
        .iter()
        .filter_map(|s| Slug::parse("tenant", s).ok())
        .collect())
}

/// Whether the entries of templates `ids` include sensitive keys, other keys, or both.
async fn entry_sensitivity<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<BTreeSet<bool>, ServiceError> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let key_ids: BTreeSet<i64> = template_entry::Entity::find()
        .select_only()
        .column(template_entry::Column::KeyId)
        .filter(template_entry::Column::TemplateId.is_in(ids.iter().copied()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    if key_ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    Ok(config_key::Entity::find()
        .select_only()
        .column(config_key::Column::Sensitive)
        .filter(config_key::Column::Id.is_in(key_ids))
        .into_tuple::<bool>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}
