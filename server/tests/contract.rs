//! Every CLI contract of ../shared/CLI-AND-FORMAT.md, by running the `strata` binary against a
//! real database (SQLite, or PostgreSQL with `STRATA_TEST_BACKEND=postgres`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use app::backend::testing::{TEST_MASTER_KEY, TestDatabase};
use serde_json::{Value, json};

struct Cli {
    test: TestDatabase,
    dir: tempfile::TempDir,
}

impl Cli {
    async fn new() -> Self {
        Cli {
            test: TestDatabase::empty().await,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
        for (name, _) in std::env::vars() {
            if name.starts_with("STRATA_") || name == "DATABASE_URL" {
                command.env_remove(name);
            }
        }
        command
            .current_dir(self.dir.path())
            .env("STRATA_MASTER_KEY", TEST_MASTER_KEY)
            .env("STRATA_LOG", "warn")
            .arg("--database")
            .arg(&self.test.url)
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "strata {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Runs a command that must fail; returns (exit code, stderr).
    fn fails(&self, args: &[&str]) -> (i32, String) {
        let output = self.run(args);
        assert!(!output.status.success(), "strata {args:?} succeeded");
        (
            output.status.code().unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn import(&self, value: &Value) -> String {
        let file = self.write("doc.json", value);
        self.ok(&["import", &file])
    }
}

fn example() -> Value {
    json!({
      "format": "strata/v1",
      "keys": [
        {"key": "fax.backend.provider", "type": "enum", "options": ["phaxio", "sip"],
         "default": "phaxio", "description": "Fax provider", "category": "Fax",
         "levels": ["global", "tenant", "department", "group", "user"],
         "sensitive": false, "user_editable": false},
        {"key": "uploads.max_size_mb", "type": "integer", "min": 1, "max": 100, "default": 10,
         "levels": ["global", "tenant"]},
        {"key": "branding.color", "type": "string", "default": "#2E7D99"},
        {"key": "providers.api_key", "type": "string"},
        {"key": "unset.key", "type": "string"}
      ],
      "tenants": [
        {"id": "mercy_hospital", "name": "Mercy Hospital Network",
         "departments": [{"id": "medical", "name": "Medical"}],
         "groups": [{"id": "doctors", "name": "Doctors", "priority": 10}]}
      ],
      "users": [
        {"id": "root", "name": "Platform admin", "traits": ["admin_capable", "super_admin", "config_write"]},
        {"id": "user123", "name": "Dr. Who", "tenant": "mercy_hospital", "department": "medical",
         "groups": ["doctors"], "traits": []}
      ],
      "entries": [
        {"level": "global", "key": "fax.backend.provider", "value": "phaxio"},
        {"level": "tenant", "tenant": "mercy_hospital", "key": "uploads.max_size_mb", "value": 20, "locked": true},
        {"level": "department", "tenant": "mercy_hospital", "department": "medical", "key": "fax.backend.provider", "value": "phaxio"},
        {"level": "group", "tenant": "mercy_hospital", "group": "doctors", "key": "fax.backend.provider", "value": "sip"},
        {"level": "tenant", "tenant": "mercy_hospital", "key": "providers.api_key", "value": "sk_live_CLI_SECRET"}
      ]
    })
}

#[tokio::test]
async fn import_is_validated_whole_and_idempotent() {
    let cli = Cli::new().await;
    let mut bad = example();
    bad["entries"][3]["value"] = json!("fax");
    bad["entries"][1]["value"] = json!("abc");
    let file = cli.write("bad.json", &bad);
    let (code, stderr) = cli.fails(&["import", &file]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines[0], "entries[1].value: expected integer, got \"abc\"");
    assert_eq!(
        lines[1],
        "entries[3].value: expected one of phaxio, sip, got \"fax\""
    );
    assert!(
        lines[2].ends_with("2 problem(s); nothing was imported"),
        "{stderr}"
    );
    assert_eq!(cli.ok(&["audit", "verify"]), "ok 0 events\n");
    assert_eq!(cli.json(&["export"])["keys"], json!([]));

    assert_eq!(
        cli.import(&example()),
        "imported: 15 created, 0 updated, 0 unchanged\n"
    );
    let events = cli.ok(&["audit", "verify"]);
    assert_eq!(
        cli.import(&example()),
        "imported: 0 created, 0 updated, 15 unchanged\n"
    );
    assert_eq!(
        cli.ok(&["audit", "verify"]),
        events,
        "a repeated import wrote audit events"
    );

    // Malformed JSON names the place.
    let file = cli.write(
        "broken.json",
        &json!({"format": "strata/v1", "keys": [{"key": 5}]}),
    );
    let (code, stderr) = cli.fails(&["import", &file]);
    assert_eq!(code, 2);
    assert!(stderr.contains("keys[0].key"), "{stderr}");
}

#[tokio::test]
async fn resolve_prints_the_contract_shapes() {
    let cli = Cli::new().await;
    cli.import(&example());
    let resolved = cli.ok(&["resolve", "--user", "user123", "--format", "json"]);
    let value: Value = serde_json::from_str(&resolved).unwrap();
    assert_eq!(
        value,
        json!({
            "branding.color": {"value": "#2E7D99", "level": "default", "scope": null},
            "fax.backend.provider": {"value": "sip", "level": "group", "scope": "mercy_hospital/doctors"},
            "providers.api_key": {"value": "••••••", "level": "tenant", "scope": "mercy_hospital"},
            "unset.key": {"value": null, "level": null, "scope": null},
            "uploads.max_size_mb": {"value": 20, "level": "tenant", "scope": "mercy_hospital"}
        })
    );
    // Keys sorted, one object on one line.
    assert_eq!(resolved.lines().count(), 1);
    let order: Vec<usize> = [
        "branding.color",
        "fax.backend.provider",
        "providers.api_key",
        "unset.key",
        "uploads.max_size_mb",
    ]
    .iter()
    .map(|k| resolved.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{resolved}");
    assert!(!resolved.contains("CLI_SECRET"));

    let revealed = cli.json(&["resolve", "--user", "user123", "--reveal"]);
    assert_eq!(revealed["providers.api_key"]["value"], "sk_live_CLI_SECRET");
    let audit = cli.json(&["audit", "list", "--limit", "1", "--format", "json"]);
    assert_eq!(audit[0]["action"], "secret.reveal");

    let what_if = cli.json(&[
        "resolve",
        "--tenant",
        "mercy_hospital",
        "--department",
        "medical",
        "--format",
        "json",
    ]);
    assert_eq!(
        what_if["fax.backend.provider"],
        json!({"value": "phaxio", "level": "department", "scope": "mercy_hospital/medical"})
    );
    let with_group = cli.json(&[
        "resolve",
        "--tenant",
        "mercy_hospital",
        "--group",
        "doctors",
    ]);
    assert_eq!(with_group["fax.backend.provider"]["value"], "sip");

    let env = cli.ok(&["resolve", "--user", "user123", "--format", "env"]);
    assert!(env.contains("FAX_BACKEND_PROVIDER=sip\n"), "{env}");
    assert!(
        env.contains("BRANDING_COLOR='#2E7D99'\n") || env.contains("BRANDING_COLOR=#2E7D99\n"),
        "{env}"
    );
    assert!(!env.contains("UNSET_KEY"), "{env}");
    let table = cli.ok(&["resolve", "--user", "user123", "--format", "table"]);
    assert!(table.starts_with("KEY"), "{table}");
    assert!(table.contains("group mercy_hospital/doctors"), "{table}");

    let (code, stderr) = cli.fails(&["resolve", "--user", "nobody"]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "strata: user nobody was not found\n");
}

#[tokio::test]
async fn chain_lists_candidates_general_to_specific() {
    let cli = Cli::new().await;
    cli.import(&example());
    let chain = cli.json(&[
        "chain",
        "fax.backend.provider",
        "--user",
        "user123",
        "--format",
        "json",
    ]);
    let shape: Vec<Value> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"level": c["level"], "scope": c["scope"], "value": c["value"], "state": c["state"]}))
        .collect();
    assert_eq!(
        shape,
        vec![
            json!({"level": "default", "scope": null, "value": "phaxio", "state": "overridden"}),
            json!({"level": "global", "scope": null, "value": "phaxio", "state": "overridden"}),
            json!({"level": "department", "scope": "mercy_hospital/medical", "value": "phaxio", "state": "overridden"}),
            json!({"level": "group", "scope": "mercy_hospital/doctors", "value": "sip", "state": "applied"}),
        ]
    );
    cli.ok(&["set", "global", "fax.backend.provider", "sip", "--lock"]);
    let chain = cli.json(&["chain", "fax.backend.provider", "--user", "user123"]);
    let states: Vec<&str> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["overridden", "applied", "ignored_locked", "ignored_locked"]
    );
    let (_, stderr) = cli.fails(&["chain", "no.such", "--user", "user123"]);
    assert_eq!(stderr, "strata: key no.such is not defined\n");
}

#[tokio::test]
async fn set_and_unset_follow_versions_and_refuse_bad_input() {
    let cli = Cli::new().await;
    cli.import(&example());
    let entry: Value = serde_json::from_str(&cli.ok(&[
        "set",
        "user",
        "--user",
        "user123",
        "fax.backend.provider",
        "phaxio",
        "--reason",
        "testing",
    ]))
    .unwrap();
    assert_eq!(
        (
            entry["value"].clone(),
            entry["version"].clone(),
            entry["locked"].clone()
        ),
        (json!("phaxio"), json!(1), json!(false))
    );
    assert_eq!(
        cli.json(&["resolve", "--user", "user123"])["fax.backend.provider"]["level"],
        "user"
    );

    let entry: Value = serde_json::from_str(&cli.ok(&[
        "set",
        "user",
        "--user",
        "user123",
        "fax.backend.provider",
        "\"sip\"",
        "--expect-version",
        "1",
    ]))
    .unwrap();
    assert_eq!(entry["version"], 2);
    let (code, stderr) = cli.fails(&[
        "set",
        "user",
        "--user",
        "user123",
        "fax.backend.provider",
        "phaxio",
        "--expect-version",
        "1",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("strata: conflict: ") && stderr.contains("current value \"sip\""),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);

    let before = cli.ok(&["audit", "verify"]);
    for (args, expected) in [
        (
            vec![
                "set",
                "tenant",
                "--tenant",
                "mercy_hospital",
                "uploads.max_size_mb",
                "abc",
            ],
            "strata: value: key uploads.max_size_mb: expected integer, got \"abc\"\n",
        ),
        (
            vec!["set", "planet", "uploads.max_size_mb", "1"],
            "strata: level \"planet\" is not valid: expected global, tenant, department, group or user\n",
        ),
        (
            vec![
                "set",
                "department",
                "--tenant",
                "mercy_hospital",
                "fax.backend.provider",
                "sip",
            ],
            "strata: a department-level scope needs department\n",
        ),
        (
            vec![
                "set",
                "user",
                "--user",
                "user123",
                "uploads.max_size_mb",
                "5",
            ],
            "strata: key uploads.max_size_mb cannot be set at the user level (allowed: global, tenant)\n",
        ),
    ] {
        let (_, stderr) = cli.fails(&args);
        assert_eq!(stderr, expected, "{args:?}");
    }
    assert_eq!(
        cli.ok(&["audit", "verify"]),
        before,
        "a refused write was audited"
    );

    let (_, stderr) = cli.fails(&[
        "unset",
        "user",
        "--user",
        "user123",
        "fax.backend.provider",
        "--expect-version",
        "1",
    ]);
    assert!(stderr.contains("conflict"), "{stderr}");
    assert_eq!(
        cli.ok(&[
            "unset",
            "user",
            "--user",
            "user123",
            "fax.backend.provider",
            "--expect-version",
            "2"
        ]),
        "removed fax.backend.provider at user:user123\n"
    );
    assert_eq!(
        cli.json(&["resolve", "--user", "user123"])["fax.backend.provider"]["level"],
        "group"
    );
    let (_, stderr) = cli.fails(&["unset", "user", "--user", "user123", "fax.backend.provider"]);
    assert_eq!(
        stderr,
        "strata: fax.backend.provider has no entry at user:user123\n"
    );
}

#[tokio::test]
async fn audit_list_and_verify() {
    let cli = Cli::new().await;
    cli.import(&example());
    cli.ok(&[
        "set",
        "tenant",
        "--tenant",
        "mercy_hospital",
        "uploads.max_size_mb",
        "30",
        "--reason",
        "bigger scans",
    ]);
    let events = cli.json(&["audit", "list", "--format", "json"]);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 17);
    let newest = &events[0];
    for field in [
        "id",
        "at",
        "actor",
        "action",
        "level",
        "scope",
        "key",
        "old_value",
        "new_value",
        "reason",
    ] {
        assert!(newest.get(field).is_some(), "missing {field}");
    }
    assert_eq!(newest["action"], "entry.set");
    assert_eq!(
        (newest["old_value"].clone(), newest["new_value"].clone()),
        (json!("20"), json!("30"))
    );
    assert_eq!(newest["reason"], "bigger scans");
    assert_eq!(newest["actor"], "cli");
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
        "not newest first"
    );

    let by_key = cli.json(&[
        "audit",
        "list",
        "--key",
        "uploads.",
        "--tenant",
        "mercy_hospital",
    ]);
    assert!(
        by_key
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["key"] == "uploads.max_size_mb")
    );
    assert_eq!(by_key.as_array().unwrap().len(), 2);
    assert_eq!(
        cli.json(&["audit", "list", "--limit", "3"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let secret_events = cli.ok(&["audit", "list", "--key", "providers."]);
    assert!(
        !secret_events.contains("CLI_SECRET") && secret_events.contains("••••••"),
        "{secret_events}"
    );
    assert!(
        cli.ok(&["audit", "list", "--format", "table"])
            .starts_with("ID")
    );

    assert_eq!(cli.ok(&["audit", "verify"]), "ok 17 events\n");
    let db = app::backend::db::connect(&cli.test.url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "UPDATE audit_events SET reason = 'nothing to see' WHERE id = 9",
    )
    .await
    .unwrap();
    let (code, stderr) = cli.fails(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("event 9"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
}

#[tokio::test]
async fn export_round_trips_and_keeps_secrets_encrypted() {
    let cli = Cli::new().await;
    cli.import(&example());
    let exported = cli.ok(&["export"]);
    assert!(!exported.contains("CLI_SECRET"));
    let doc: Value = serde_json::from_str(&exported).unwrap();
    let secret = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "providers.api_key")
        .unwrap();
    assert!(
        secret["value"]["encrypted"]
            .as_str()
            .unwrap()
            .starts_with("v1:")
    );
    assert_eq!(doc["format"], "strata/v1");

    // Another database with the same master key takes the export as is.
    let other = Cli::new().await;
    let mut child = other
        .command(&["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exported.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        other.json(&["resolve", "--user", "user123", "--reveal"])["providers.api_key"]["value"],
        "sk_live_CLI_SECRET"
    );
    assert_eq!(
        cli.import(&doc),
        "imported: 0 created, 0 updated, 15 unchanged\n"
    );

    let revealed = cli.ok(&["export", "--reveal"]);
    assert!(revealed.contains("sk_live_CLI_SECRET"));
}

#[tokio::test]
async fn demo_loads_the_demo_organisation_once() {
    let cli = Cli::new().await;
    let loaded = cli.ok(&["demo", "--if-empty"]);
    assert!(loaded.starts_with("demo organisation loaded: "), "{loaded}");
    // In development the demo's admin accounts get passwords, shown this once only.
    assert!(loaded.contains("demo admin accounts"), "{loaded}");
    assert!(cli.ok(&["demo", "--if-empty"]).contains("demo not loaded"));
    let first = cli.ok(&["demo"]);
    assert!(
        first.contains(" 0 created,"),
        "the first --if-empty loaded it: {first}"
    );
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(cli.ok(&["demo"]).contains(" 0 created, 0 updated,"));
    let house = cli.json(&["resolve", "--user", "dr_house"]);
    assert_eq!(
        house["fax.backend.provider"]["scope"],
        "mercy_hospital/emergency_doctors"
    );
    assert_eq!(house["providers.phaxio.api_key"]["value"], "••••••");
}

#[tokio::test]
async fn admin_commands_manage_accounts() {
    let cli = Cli::new().await;
    cli.import(&example());
    let create = |args: &[&str], password: &str| {
        let mut child = cli
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let output = create(
        &[
            "admin",
            "create",
            "maria",
            "--name",
            "Maria Santos",
            "--tenant",
            "mercy_hospital",
            "--department",
            "medical",
            "--group",
            "doctors",
            "--traits",
            "admin_capable,tenant_admin,config_write",
            "--password-stdin",
        ],
        "a long enough password",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "created maria\n");
    // Her configuration resolves like anyone's.
    assert_eq!(
        cli.json(&["resolve", "--user", "maria"])["fax.backend.provider"]["value"],
        "sip"
    );

    let output = create(&["admin", "create", "weak", "--password-stdin"], "short");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "strata: password: must be at least 12 characters\n"
    );
    let output = create(
        &["admin", "set-password", "maria", "--password-stdin"],
        "another long password",
    );
    assert!(output.status.success());

    assert_eq!(
        cli.ok(&["admin", "set-traits", "maria", "admin_capable,dept_admin"]),
        "traits of maria: admin_capable,dept_admin\n"
    );
    let (code, stderr) = cli.fails(&["admin", "set-traits", "maria", "wizard"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("trait \"wizard\" is not valid"), "{stderr}");
    assert_eq!(
        cli.ok(&["admin", "disable", "maria"]),
        "maria is disabled\n"
    );
    let (_, stderr) = cli.fails(&["admin", "disable", "nobody"]);
    assert_eq!(stderr, "strata: user nobody was not found\n");

    let events = cli.json(&["audit", "list", "--limit", "4"]);
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.disable",
            "user.traits",
            "user.password",
            "user.create"
        ]
    );
    let text = events.to_string();
    assert!(!text.contains("long enough password") && !text.contains("another long password"));
}
