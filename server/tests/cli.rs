//! The `strata` binary as operators run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use app::backend::testing::TestDatabase;
use sea_orm::ConnectionTrait;

fn strata() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    // The tests decide every setting; nothing leaks in from the developer's shell or .env.
    for (name, _) in std::env::vars() {
        if name.starts_with("STRATA_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command.current_dir(env!("CARGO_TARGET_TMPDIR"));
    command
}

#[tokio::test]
async fn migrate_brings_a_new_database_up_to_date() {
    let test = TestDatabase::empty().await;
    let output = strata()
        .args(["migrate", "--database", &test.url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "database is up to date\n"
    );
    let status = app::backend::health::database_status(&test.db)
        .await
        .unwrap();
    assert!(status.applied_migrations > 0);
}

#[test]
fn openapi_prints_the_served_document_without_a_database() {
    let output = strata().arg("openapi").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/effective"]["get"].is_object());
    assert!(doc["paths"]["/healthz"]["get"].is_object());
}

#[test]
fn a_bad_setting_stops_with_one_line_and_exit_code_2() {
    let output = strata()
        .env("STRATA_ADDR", "localhost")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("strata: STRATA_ADDR=\"localhost\" is not valid"),
        "{stderr}"
    );
}

#[test]
fn a_bad_database_argument_is_refused() {
    let output = strata()
        .args(["migrate", "--database", "mysql://nowhere"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--database \"mysql://nowhere\" is not valid"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_prints_its_url_and_stops_cleanly_on_sigterm() {
    let test = TestDatabase::empty().await;
    let mut child = strata()
        .args(["serve", "--addr", "127.0.0.1:0", "--database", &test.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("Strata console: ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    // serve migrated the new database on start.
    let status = app::backend::health::database_status(&test.db)
        .await
        .unwrap();
    assert!(status.applied_migrations > 0);

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("shutting down") && stderr.contains("stopped"),
        "{stderr}"
    );
}

#[tokio::test]
async fn passwords_and_session_ids_stay_out_of_the_logs() {
    let test = TestDatabase::empty().await;
    let password = "log-test-password-123";
    let mut child = strata()
        .args(["serve", "--addr", "127.0.0.1:0", "--database", &test.url])
        .env("STRATA_ADMIN_PASSWORD", password)
        .env("STRATA_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("Strata console: ")
        .unwrap()
        .to_owned();

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(format!("{url}/fn/login"))
        .header("accept", "application/json")
        .form(&[("username", "admin"), ("password", password)])
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let session_id = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let page = client
        .get(format!("{url}/"))
        .header("cookie", format!("strata_session={session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.contains("/fn/login"),
        "the request was not logged: {logs}"
    );
    assert!(!logs.contains(password), "the password is in the logs");
    assert!(!logs.contains(&session_id), "the session id is in the logs");
}

#[tokio::test]
async fn rotate_master_key_re_encrypts_every_secret_so_the_old_key_can_go() {
    use app::backend::audit::{AuditFilter, list};
    use app::backend::crypto::SecretBox;
    let test = TestDatabase::new().await;
    let old = SecretBox::generate_key();
    let new = SecretBox::generate_key();
    let run = |key: &str, older: Option<&str>, args: &[&str]| {
        let mut command = strata();
        command.env("STRATA_MASTER_KEY", key);
        if let Some(older) = older {
            command.env("STRATA_OLD_MASTER_KEYS", older);
        }
        let output = command
            .args(args)
            .args(["--database", &test.url])
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            output.status.success(),
            text(&output.stdout),
            text(&output.stderr),
        )
    };
    let ok = |(success, stdout, stderr): (bool, String, String)| {
        assert!(success, "{stderr}");
        stdout
    };
    ok(run(&old, None, &["demo"]));
    // A change of a secret: the audit keeps the value it replaced, for a revert.
    ok(run(
        &old,
        None,
        &[
            "set",
            "tenant",
            "--tenant",
            "mercy_hospital",
            "providers.phaxio.api_key",
            "phx_second",
        ],
    ));
    // With only the new key nothing sealed opens yet.
    let (success, _, stderr) = run(&new, None, &["resolve", "--user", "dr_house"]);
    assert!(!success);
    assert!(stderr.contains("not configured"), "{stderr}");

    let rotated = ok(run(&new, Some(&old), &["rotate-master-key"]));
    assert!(
        rotated.contains(": 2 entries, 0 key defaults, "),
        "{rotated}"
    );

    // The old key is gone from the settings, and every secret still opens.
    let resolved = ok(run(
        &new,
        None,
        &["resolve", "--user", "dr_house", "--reveal"],
    ));
    assert!(resolved.contains("phx_second"), "{resolved}");
    let exported = ok(run(&new, None, &["export", "--reveal"]));
    assert!(exported.contains("phx_live_platform_5b1f0c2e9a"));
    assert!(ok(run(&new, None, &["audit", "verify"])).starts_with("ok "));
    // A revert still restores the value the change replaced.
    let state =
        app::backend::AppState::start(test.db.clone(), SecretBox::from_base64(&new, &[]).unwrap())
            .await
            .unwrap();
    let change = list(
        &state.db,
        &AuditFilter {
            action: Some("entry.set".into()),
            key_prefix: Some("providers.phaxio.api_key".into()),
            limit: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let plan = app::backend::revert::plan(&state, change[0].id)
        .await
        .unwrap();
    assert_eq!(
        plan.restore.map(|(value, _)| value),
        Some(serde_json::json!("phx_live_mercy_77c41d09e3"))
    );
    // Nothing is left to re-encrypt, and each rotation is audited.
    let again = ok(run(&new, None, &["rotate-master-key"]));
    assert!(
        again.contains(": 0 entries, 0 key defaults, 0 audit values"),
        "{again}"
    );
    let rotations = list(
        &state.db,
        &AuditFilter {
            action: Some("master_key.rotate".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rotations.len(), 2);
    assert_eq!(rotations[0].actor, "cli");
}

/// A rolling deploy's first start: two replicas on one new database at the same moment both
/// migrate, create one super admin between them, load the demo once, and serve.
#[tokio::test]
async fn replicas_starting_together_on_a_new_database_both_serve() {
    use sea_orm::{ConnectionTrait, Statement};
    let test = TestDatabase::empty().await;
    let key = app::backend::crypto::SecretBox::generate_key();
    let replica = |args: &[&str]| {
        let mut command = strata();
        command
            .env("STRATA_MASTER_KEY", &key)
            .env("STRATA_ADMIN_PASSWORD", "replica start password")
            .args(args)
            .args(["--database", &test.url]);
        command
    };
    let started: Vec<_> = (0..2)
        .map(|_| {
            replica(&["serve", "--addr", "127.0.0.1:0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut urls = Vec::new();
    for mut child in started {
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("Strata console: ")
            .map(str::to_owned);
        if url.is_none() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("a replica did not start: {line:?} {stderr}");
        }
        urls.push((url.unwrap(), child));
    }
    for (url, _) in &urls {
        let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200, "{url}");
    }
    // Both load the demo at once, as two `make run`s would.
    let loads: Vec<_> = (0..2)
        .map(|_| {
            replica(&["demo", "--if-empty"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for load in loads {
        let output = load.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let count = |sql: &str| {
        let db = &test.db;
        let sql = sql.to_owned();
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM users WHERE slug = 'admin'").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'user.create' AND scope = 'admin'").await,
        1
    );
    let demo_users = app::backend::demo::document().users.len() as i64;
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM users").await,
        demo_users + 1
    );
    for (_, mut child) in urls {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// `strata watch` prints the snapshot, then one JSON line per change of the context, including
/// those another process (here `strata set`) commits, on SQLite and PostgreSQL alike.
#[tokio::test]
async fn watch_prints_the_snapshot_then_each_change_as_json_lines() {
    let test = TestDatabase::new().await;
    let key = app::backend::crypto::SecretBox::generate_key();
    let run = |args: &[&str]| {
        let output = strata()
            .env("STRATA_MASTER_KEY", &key)
            .args(args)
            .args(["--database", &test.url])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&["demo"]);
    let mut watch = strata()
        .env("STRATA_MASTER_KEY", &key)
        .args(["watch", "--user", "dr_house", "--database", &test.url])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || -> serde_json::Value {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line from strata watch");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let snapshot = next();
    assert_eq!(snapshot["event"], "snapshot");
    assert_eq!(
        snapshot["data"]["providers.phaxio.api_key"]["value"],
        "••••••"
    );
    let first = snapshot["id"].as_u64().unwrap();

    // Another tenant's change is skipped; this tenant's arrives.
    run(&[
        "set",
        "tenant",
        "--tenant",
        "general_hospital",
        "branding.color",
        "#0a0a0a",
    ]);
    run(&[
        "set",
        "tenant",
        "--tenant",
        "mercy_hospital",
        "branding.color",
        "#0b0b0b",
    ]);
    let change = next();
    watch.kill().unwrap();
    let _ = watch.wait();
    assert_eq!(change["event"], "change");
    assert_eq!(change["id"].as_u64().unwrap(), first + 2, "{change}");
    assert_eq!(
        change["data"]["changed"],
        serde_json::json!({"branding.color": {"value": "#0b0b0b", "level": "tenant", "scope": "mercy_hospital"}})
    );
}

#[tokio::test]
async fn import_env_prints_the_plan_then_applies_it_all_or_nothing() {
    let test = TestDatabase::new().await;
    let key = app::backend::crypto::SecretBox::generate_key();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let run = |args: &[&str]| {
        strata()
            .env("STRATA_MASTER_KEY", &key)
            .args(args)
            .args(["--database", &test.url])
            .output()
            .unwrap()
    };
    assert!(run(&["demo"]).status.success());
    let file = format!("{examples}/mercy-medical.env");
    let mapping = format!("{examples}/mercy-medical.mapping.json");
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import-env",
            &file,
            "--scope",
            "department:mercy_hospital/medical",
            "--mapping",
            &mapping,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };

    let dry = import(&["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let table = String::from_utf8_lossy(&dry.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("LINE  NAME"), "{table}");
    assert!(
        lines[1].contains("FAX_BACKEND_PROVIDER")
            && lines[1].contains("fax.backend.provider")
            && lines[1].contains("create")
            && lines[1].contains("-> \"sip\""),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("LEGACY_DEBUG") && l.contains("ignored"))
    );
    assert_eq!(
        lines.last(),
        Some(&"would import: 7 created, 0 updated, 0 unchanged")
    );
    let resolve = || {
        let out = run(&[
            "resolve",
            "--tenant",
            "mercy_hospital",
            "--department",
            "medical",
        ]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(resolve()["fax.retry_attempts"]["level"], "default");

    let applied = import(&[]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert!(
        String::from_utf8_lossy(&applied.stdout)
            .ends_with("imported: 7 created, 0 updated, 0 unchanged\n")
    );
    let effective = resolve();
    assert_eq!(effective["fax.retry_attempts"]["value"], 5);
    assert_eq!(effective["fax.retry_attempts"]["level"], "department");

    // A file with a row in error: the rows, a one-line reason, exit 1, nothing written.
    let bad = format!("{}/bad.env", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&bad, "FAX_RETRY_ATTEMPTS=11\nBRANDING_COLOR=#123456\n").unwrap();
    let refused = run(&["import-env", &bad, "--scope", "tenant:mercy_hospital"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("expected integer between 0 and 10"),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        stderr.lines().last(),
        Some(format!("strata: {bad}: 1 row(s) in error; nothing was imported").as_str()),
        "{stderr}"
    );
    let effective = resolve();
    assert_eq!(effective["branding.color"]["value"], "#8E244D");
}

#[tokio::test]
async fn resolve_chain_and_export_name_the_template_a_value_comes_from() {
    let test = TestDatabase::new().await;
    let key = app::backend::crypto::SecretBox::generate_key();
    let run = |args: &[&str]| {
        let out = strata()
            .env("STRATA_MASTER_KEY", &key)
            .args(args)
            .args(["--database", &test.url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["demo"]);
    // General Hospital follows the demo's healthcare template, which locks HIPAA on.
    let resolved: serde_json::Value =
        serde_json::from_str(&run(&["resolve", "--user", "clerk_cole"])).unwrap();
    assert_eq!(
        resolved["compliance.hipaa.enabled"],
        serde_json::json!({"value": true, "level": "tenant", "scope": "general_hospital",
            "template": "healthcare"})
    );
    let table = run(&["resolve", "--user", "clerk_cole", "--format", "table"]);
    assert!(
        table.lines().any(|l| l.contains("compliance.hipaa.enabled")
            && l.contains("tenant general_hospital (template healthcare)")),
        "{table}"
    );
    let chain = run(&[
        "chain",
        "compliance.hipaa.enabled",
        "--user",
        "clerk_cole",
        "--format",
        "table",
    ]);
    assert!(
        chain
            .lines()
            .any(|l| l.contains("general_hospital (template healthcare)") && l.contains("applied")),
        "{chain}"
    );

    // The export carries the templates and who follows them; importing it changes nothing.
    let exported = run(&["export"]);
    let doc: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let names: Vec<&str> = doc["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["business", "enterprise", "healthcare"]);
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("templates-export-{}.json", std::process::id()));
    std::fs::write(&file, &exported).unwrap();
    let again = run(&["import", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert!(again.contains("0 created, 0 updated"), "{again}");
}

/// `make run` on an empty database in development: each admin kind of the demo can sign in
/// with the password printed once; running it again prints none; production prints none.
#[tokio::test]
async fn demo_prints_a_password_for_each_admin_account_in_development_only() {
    let test = TestDatabase::new().await;
    // The key the test's own services read the secrets with.
    let key = app::backend::testing::TEST_MASTER_KEY;
    let run = |env: &str| {
        let output = strata()
            .env("STRATA_MASTER_KEY", key)
            .env("STRATA_ENV", env)
            .args(["demo", "--if-empty", "--database", &test.url])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let out = run("development");
    assert!(out.contains("demo admin accounts"), "{out}");
    // Rows of "account  kind  password": the kind is what lies between the two.
    let rows: Vec<Vec<String>> = out
        .lines()
        .skip_while(|l| !l.starts_with("demo admin accounts"))
        .skip(2)
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let (user, rest) = words.split_first().unwrap();
            let (password, kind) = rest.split_last().unwrap();
            vec![user.to_string(), kind.join(" "), password.to_string()]
        })
        .collect();
    let admins: Vec<String> = app::backend::demo::document()
        .users
        .into_iter()
        .filter(|u| u.traits.iter().any(|t| t == "admin_capable"))
        .map(|u| u.id)
        .collect();
    assert_eq!(rows.len(), admins.len(), "{out}");
    let kind_of = |user: &str| rows.iter().find(|r| r[0] == user).unwrap()[1].to_owned();
    assert_eq!(kind_of("root"), "super admin, reads secrets");
    assert_eq!(kind_of("mercy_viewer"), "tenant admin, read-only");
    assert_eq!(kind_of("medical_head"), "department admin");
    // Each printed password signs its account in.
    let state = test.state().await;
    for row in &rows {
        let (user, password) = (&row[0], &row[2]);
        let signed_in = app::backend::accounts::login(
            &state,
            user,
            password.clone(),
            &app::backend::audit::Actor::named("tests"),
        )
        .await;
        assert!(signed_in.is_ok(), "{user}: {signed_in:?}");
    }
    // Shown once: a second run leaves the passwords alone, and so does a plain `demo`.
    assert!(!run("development").contains("demo admin accounts"));
    let plain = strata()
        .env("STRATA_MASTER_KEY", key)
        .args(["demo", "--database", &test.url])
        .output()
        .unwrap();
    assert!(plain.status.success());
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("password"));
    // Production never gives one.
    let production = TestDatabase::new().await;
    let output = strata()
        .env("STRATA_MASTER_KEY", key)
        .env("STRATA_ENV", "production")
        .args(["demo", "--if-empty", "--database", &production.url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("password"));
    let with_password = production
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            production.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM users WHERE password_hash IS NOT NULL",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(with_password, 0);
}
