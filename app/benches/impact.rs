//! Impact of a global change on the platform of DESIGN §8: 1,000 tenants of 5 departments, 10
//! groups and 100 users (each in a department and 2 groups), 200 keys, entries at every level
//! (global 200, per tenant 50 + 5 x 20 + 10 x 20 + 100 x 6 or 7), as `make bench-scale`'s
//! generator lays them out. Target (issue 14): under 1 s.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::sync::Arc;

use app::domain::impact::{EntryOp, OpKind, Patches, impact};
use app::domain::key::{KeyDefinition, KeyType};
use app::domain::name::{ConfigKey, Slug};
use app::domain::resolve::{Cell, Keys, Layer, Placement, Snapshot};
use app::domain::scope::Scope;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const TENANTS: usize = 1_000;
const USERS: usize = 100;
const KEYS: u32 = 200;

fn slug(s: String) -> Slug {
    Slug::parse("id", &s).unwrap()
}

/// A deterministic spread of `n` keys, different for each `seed`.
fn some_keys(seed: usize, n: usize) -> Vec<u32> {
    let mut keys: Vec<u32> = (0..n)
        .map(|i| ((seed * 7919 + i * 37) % KEYS as usize) as u32)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn layer(scope: Scope, keys: &[u32], value: usize) -> Layer {
    let mut layer = Layer::new(scope);
    for &k in keys {
        layer.set(
            k,
            Cell {
                value: json!(value % 1000),
                locked: false,
                version: 1,
            },
        );
    }
    layer
}

fn platform() -> Vec<Snapshot> {
    let defs = (0..KEYS)
        .map(|i| KeyDefinition {
            default: Some(json!(0)),
            ..KeyDefinition::new(
                ConfigKey::parse(&format!("bench.k{i:03}")).unwrap(),
                KeyType::Integer,
            )
        })
        .collect();
    let keys = Arc::new(Keys::new(defs));
    let all: Vec<u32> = (0..KEYS).collect();
    let global = Arc::new(layer(Scope::Global, &all, 1));
    (0..TENANTS)
        .map(|t| {
            let tenant = slug(format!("t{t:04}"));
            let mut layers = HashMap::new();
            let mut put = |scope: Scope, keys: Vec<u32>, value: usize| {
                layers.insert(scope.clone(), layer(scope, &keys, value));
            };
            put(
                Scope::Tenant {
                    tenant: tenant.clone(),
                },
                some_keys(t, 50),
                t,
            );
            for d in 0..5 {
                put(
                    Scope::Department {
                        tenant: tenant.clone(),
                        department: slug(format!("d{d}")),
                    },
                    some_keys(t * 5 + d, 20),
                    d,
                );
            }
            for g in 0..10 {
                put(
                    Scope::Group {
                        tenant: tenant.clone(),
                        group: slug(format!("g{g}")),
                    },
                    some_keys(t * 10 + g, 20),
                    g,
                );
            }
            let mut users = HashMap::new();
            for u in 0..USERS {
                let user = slug(format!("u{t:04}_{u:03}"));
                put(
                    Scope::User { user: user.clone() },
                    some_keys(t * USERS + u, 6 + u % 2),
                    u,
                );
                let groups: HashSet<Slug> = [u % 10, (u * 7 + 3) % 10]
                    .into_iter()
                    .map(|g| slug(format!("g{g}")))
                    .collect();
                users.insert(
                    user,
                    Placement {
                        department: Some(slug(format!("d{}", u % 5))),
                        groups: groups.into_iter().collect(),
                    },
                );
            }
            Snapshot {
                version: 1,
                tenant: Some(tenant),
                keys: keys.clone(),
                global: global.clone(),
                layers,
                followed: HashMap::new(),
                departments: (0..5).map(|d| slug(format!("d{d}"))).collect(),
                groups: (0..10).map(|g| (slug(format!("g{g}")), g as i64)).collect(),
                users,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let snapshots = platform();
    let refs: Vec<&Snapshot> = snapshots.iter().collect();
    let global = snapshots[0].global.clone();
    let current = |scope: &Scope, k: u32| match scope {
        Scope::Global => global.get(k).cloned(),
        _ => None,
    };
    let set = Patches::new(
        &[EntryOp {
            scope: Scope::Global,
            key: 8,
            kind: OpKind::Set(json!(999)),
        }],
        current,
    )
    .unwrap();
    let lock = Patches::new(
        &[EntryOp {
            scope: Scope::Global,
            key: 8,
            kind: OpKind::Lock,
        }],
        current,
    )
    .unwrap();
    let mut group = c.benchmark_group("impact (1,000 tenants, 100,000 users)");
    group.sample_size(10);
    group.bench_function("global set of one key", |b| {
        b.iter(|| black_box(impact(&refs, &set, 20)))
    });
    group.bench_function("global lock of one key", |b| {
        b.iter(|| black_box(impact(&refs, &lock, 20)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
