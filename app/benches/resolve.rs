//! Resolution speed: one user's effective configuration (200 keys, all five levels, 3 groups),
//! with and without JSON serialisation, and every user of a 10,000-user tenant.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::sync::Arc;

use app::domain::key::{KeyDefinition, KeyType};
use app::domain::name::{ConfigKey, Slug};
use app::domain::resolve::{Cell, Context, EffectiveView, Keys, Layer, Placement, Snapshot};
use app::domain::scope::Scope;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const KEYS: usize = 200;
const USERS: usize = 10_000;
const DEPARTMENTS: usize = 10;
const GROUPS: usize = 20;

fn slug(s: String) -> Slug {
    Slug::parse("id", &s).unwrap()
}

fn cell(value: serde_json::Value, locked: bool) -> Cell {
    Cell {
        value,
        locked,
        version: 1,
    }
}

/// A tenant where every level holds entries: global all keys, tenant half, departments a
/// quarter, groups 30 keys each, users 3 keys each; some locks.
fn snapshot() -> Snapshot {
    let types = [
        KeyType::String,
        KeyType::Integer,
        KeyType::Boolean,
        KeyType::Json,
    ];
    let defs = (0..KEYS)
        .map(|i| KeyDefinition {
            default: Some(json!(i)),
            sensitive: i % 40 == 0,
            ..KeyDefinition::new(
                ConfigKey::parse(&format!("category{}.key_{i:03}", i % 8)).unwrap(),
                types[i % 4],
            )
        })
        .collect();
    let keys = Arc::new(Keys::new(defs));
    let value = |i: usize, level: &str| json!(format!("{level}-{i}"));
    let tenant = slug("mercy".into());

    let mut global = Layer::new(Scope::Global);
    for i in 0..KEYS as u32 {
        global.set(i, cell(value(i as usize, "global"), i % 50 == 0));
    }
    let mut layers = HashMap::new();
    let mut tenant_layer = Layer::new(Scope::Tenant {
        tenant: tenant.clone(),
    });
    for i in (0..KEYS as u32).step_by(2) {
        tenant_layer.set(i, cell(value(i as usize, "tenant"), i % 30 == 0));
    }
    layers.insert(tenant_layer.scope().clone(), tenant_layer);
    let mut departments = HashSet::new();
    for d in 0..DEPARTMENTS {
        let scope = Scope::Department {
            tenant: tenant.clone(),
            department: slug(format!("d{d}")),
        };
        let mut layer = Layer::new(scope.clone());
        for i in (d as u32..KEYS as u32).step_by(4) {
            layer.set(i, cell(value(i as usize, "department"), false));
        }
        layers.insert(scope, layer);
        departments.insert(slug(format!("d{d}")));
    }
    let mut groups = HashMap::new();
    for g in 0..GROUPS {
        let scope = Scope::Group {
            tenant: tenant.clone(),
            group: slug(format!("g{g}")),
        };
        let mut layer = Layer::new(scope.clone());
        for k in 0..30 {
            layer.set(
                ((g * 7 + k * 6) % KEYS) as u32,
                cell(value(k, "group"), false),
            );
        }
        layers.insert(scope, layer);
        groups.insert(slug(format!("g{g}")), (g % 5) as i64);
    }
    let mut users = HashMap::new();
    for u in 0..USERS {
        let user = slug(format!("u{u}"));
        let scope = Scope::User { user: user.clone() };
        let mut layer = Layer::new(scope.clone());
        for k in 0..3 {
            layer.set(
                ((u * 13 + k * 61) % KEYS) as u32,
                cell(value(k, "user"), false),
            );
        }
        layers.insert(scope, layer);
        users.insert(
            user,
            Placement {
                department: Some(slug(format!("d{}", u % DEPARTMENTS))),
                groups: (0..3)
                    .map(|k| slug(format!("g{}", (u + k * 7) % GROUPS)))
                    .collect(),
            },
        );
    }
    Snapshot {
        version: 1,
        tenant: Some(tenant),
        keys,
        global: Arc::new(global),
        layers,
        followed: HashMap::new(),
        departments,
        groups,
        users,
    }
}

fn benches(c: &mut Criterion) {
    let snapshot = snapshot();
    let one = Context::User(slug("u42".into()));
    assert_eq!(
        snapshot.chain_layers(&one).unwrap().len(),
        7,
        "all five levels and 3 groups"
    );

    c.bench_function("resolve one user, 200 keys", |b| {
        b.iter(|| black_box(snapshot.effective(black_box(&one)).unwrap().len()))
    });
    c.bench_function("resolve + JSON one user, 200 keys", |b| {
        let mut buffer = Vec::with_capacity(32 * 1024);
        b.iter(|| {
            buffer.clear();
            let resolved = snapshot.effective(black_box(&one)).unwrap();
            serde_json::to_writer(
                &mut buffer,
                &EffectiveView {
                    resolved: &resolved,
                    reveal: false,
                },
            )
            .unwrap();
            black_box(buffer.len())
        })
    });
    let everyone: Vec<Context> = (0..USERS)
        .map(|u| Context::User(slug(format!("u{u}"))))
        .collect();
    let mut group = c.benchmark_group("tenant of 10,000 users");
    group.sample_size(10);
    group.bench_function("resolve every user, 200 keys", |b| {
        b.iter(|| {
            let mut total = 0;
            for ctx in &everyone {
                total += snapshot.effective(ctx).unwrap().len();
            }
            black_box(total)
        })
    });
    group.finish();
}

criterion_group!(resolution, benches);
criterion_main!(resolution);
