//! The command line of ../shared/CLI-AND-FORMAT.md. Each command is a thin adapter over one
//! `app::backend` service.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;

use app::backend::accounts::{self, NewAccount};
use app::backend::audit::{Actor, AuditFilter};
use app::backend::crypto::SecretBox;
use app::backend::env_import::{self, EnvImport};
use app::backend::error::ServiceError;
use app::backend::resolution::{self, ContextSpec};
use app::backend::watch::{WatchEvent, Watcher};
use app::backend::{AppState, audit, db, demo, entries, transfer};
use app::domain::document::Document;
use app::domain::dotenv::plan::{Mapping, Row};
use app::domain::level::Level;
use app::domain::name::{ConfigKey, Slug};
use app::domain::resolve::EffectiveView;
use app::domain::scope::Scope;
use app::domain::traits::Trait;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::settings::{Environment, Settings, validate_database_url};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Hierarchical multi-tenant configuration service"
)]
pub struct Cli {
    /// Database URL (default: STRATA_DATABASE_URL, then DATABASE_URL, then ./data/strata.db).
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
    Env,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Json,
    Table,
}

/// A context: `--user U`, or `--tenant T [--department D] [--group G]...` (what-if).
#[derive(Debug, Args)]
pub struct ContextArgs {
    #[arg(long, value_name = "U", conflicts_with_all = ["tenant", "department", "group"], required_unless_present = "tenant")]
    pub user: Option<String>,
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    #[arg(long, value_name = "D", requires = "tenant")]
    pub department: Option<String>,
    #[arg(long, value_name = "G", requires = "tenant")]
    pub group: Vec<String>,
}

/// Scope flags of `set` and `unset`; which are needed depends on the level.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    #[arg(long, value_name = "D")]
    pub department: Option<String>,
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the console and the HTTP API.
    Serve {
        /// Address to listen on (default: STRATA_ADDR, then 127.0.0.1:3000).
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<SocketAddr>,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Print the OpenAPI 3 document of the HTTP API (as served at /api/v1/openapi.json).
    Openapi,
    /// Import a strata/v1 document (FILE, or - for standard input); all or nothing.
    Import {
        file: String,
        /// Validate and count the changes without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import a .env file (FILE, or - for standard input) into one scope: the plan first, one
    /// row per line; then, unless --dry-run or a row is in error, all of it or nothing.
    ImportEnv {
        file: String,
        /// Where the values go: global, tenant:T, department:T/D, group:T/G or user:U.
        #[arg(long, value_name = "S")]
        scope: String,
        /// A JSON file: {"strip_prefix", "map": {NAME: key}, "ignore": [NAME], "create_keys"}.
        #[arg(long, value_name = "FILE.json")]
        mapping: Option<String>,
        /// Print the plan without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Recorded with every audit event of the import.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Print the whole platform as a strata/v1 document.
    Export {
        /// Print sensitive values in plaintext instead of encrypted.
        #[arg(long)]
        reveal: bool,
    },
    /// Print the effective configuration of a user or a what-if context.
    Resolve {
        #[command(flatten)]
        context: ContextArgs,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Print sensitive values in plaintext (audited).
        #[arg(long)]
        reveal: bool,
    },
    /// Follow the effective configuration of a user or a what-if context: one JSON line per
    /// event (`{"event": "snapshot"|"change", "id": REVISION, "data": …}`) until interrupted.
    Watch {
        #[command(flatten)]
        context: ContextArgs,
        /// Print sensitive values in plaintext (audited once).
        #[arg(long)]
        reveal: bool,
    },
    /// Print where a key's value comes from, general to specific.
    Chain {
        key: String,
        #[command(flatten)]
        context: ContextArgs,
        #[arg(long, value_enum, default_value = "json")]
        format: ListFormat,
    },
    /// Set a value (VALUE is JSON; a bare word that is not JSON is taken as a string).
    Set {
        level: String,
        key: String,
        value: String,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Lock the entry: more specific levels cannot override it.
        #[arg(long, conflicts_with = "unlock")]
        lock: bool,
        /// Remove the lock.
        #[arg(long)]
        unlock: bool,
        /// Refuse the change unless the entry is at this version (0: not set yet).
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Remove a value.
    Unset {
        level: String,
        key: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Read and check the audit chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage accounts that sign in to the console and the API.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Re-encrypt every stored secret under STRATA_MASTER_KEY, so the keys in
    /// STRATA_OLD_MASTER_KEYS can be removed afterwards (audited).
    RotateMasterKey,
    /// Load the demo organisation. With --if-empty in development, its admin accounts that
    /// have no password get one, printed once (account, kind, password).
    Demo {
        /// Only when the database holds no key definitions yet (a first start).
        #[arg(long)]
        if_empty: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account; the password is read from standard input.
    Create {
        user: String,
        #[arg(long, value_name = "N")]
        name: Option<String>,
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        #[arg(long, value_name = "D", requires = "tenant")]
        department: Option<String>,
        #[arg(long, value_name = "G", requires = "tenant")]
        group: Vec<String>,
        /// Comma-separated traits, e.g. admin_capable,tenant_admin,config_write.
        #[arg(long, value_name = "a,b")]
        traits: Option<String>,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Replace an account's password, read from standard input.
    SetPassword {
        user: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Replace an account's traits (comma-separated; empty for none).
    SetTraits { user: String, traits: String },
    /// Stop an account from signing in (its configuration stays).
    Disable { user: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List events, newest first.
    List {
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// Only events of keys starting with PREFIX.
        #[arg(long, value_name = "PREFIX")]
        key: Option<String>,
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        #[arg(long, value_enum, default_value = "json")]
        format: ListFormat,
    },
    /// Check that no event was edited or deleted.
    Verify,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Service(String),
    /// Already reported on stderr; exit non-zero.
    #[error("{0}")]
    Reported(String),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<ServiceError> for CliError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Database(e) => CliError::Database(e),
            other => CliError::Service(other.to_string()),
        }
    }
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

const ACTOR: &str = "cli";

/// How often `strata watch` looks for changes besides notifications (SQLite has none): what
/// its events may lag behind a write by.
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Opens and migrates the database and loads the snapshots.
pub async fn open_state(settings: &Settings) -> Result<AppState, CliError> {
    let database = db::connect(&settings.database_url).await?;
    db::migrate(&database).await?;
    Ok(AppState::start(database, secrets(settings)?).await?)
}

/// The master keys from the settings; in development a generated key file stands in.
pub fn secrets(settings: &Settings) -> Result<SecretBox, CliError> {
    let older: Vec<String> = settings
        .old_master_keys
        .iter()
        .map(|k| k.0.clone())
        .collect();
    match (&settings.master_key, settings.environment) {
        (Some(key), _) => SecretBox::from_base64(&key.0, &older)
            .map_err(|e| CliError::Usage(format!("STRATA_MASTER_KEY: {e}"))),
        (None, Environment::Development) => {
            let path = settings.data_dir.join("master.key");
            let (secret_box, created) = SecretBox::load_or_create_file(&path)?;
            if created {
                tracing::warn!(
                    path = %path.display(),
                    "generated a development master key; set STRATA_MASTER_KEY outside development"
                );
            }
            Ok(secret_box)
        }
        (None, Environment::Production) => Err(CliError::Usage(
            "STRATA_MASTER_KEY is required in production".into(),
        )),
    }
}

fn slug(what: &'static str, value: &str) -> Result<Slug, CliError> {
    Slug::parse(what, value).map_err(|e| CliError::Usage(e.to_string()))
}

fn context(args: &ContextArgs) -> Result<ContextSpec, CliError> {
    match (&args.user, &args.tenant) {
        (Some(user), _) => Ok(ContextSpec::User(slug("user", user)?)),
        (None, Some(tenant)) => Ok(ContextSpec::WhatIf {
            tenant: slug("tenant", tenant)?,
            department: args
                .department
                .as_deref()
                .map(|d| slug("department", d))
                .transpose()?,
            groups: args
                .group
                .iter()
                .map(|g| slug("group", g))
                .collect::<Result<_, _>>()?,
        }),
        (None, None) => Err(CliError::Usage("give --user U or --tenant T".into())),
    }
}

fn scope(level: &str, args: &ScopeArgs) -> Result<Scope, CliError> {
    let level: Level = level
        .parse()
        .map_err(|e: app::domain::level::UnknownLevel| CliError::Usage(e.to_string()))?;
    Scope::from_parts(
        level,
        args.tenant.as_deref(),
        args.department.as_deref(),
        args.group.as_deref(),
        args.user.as_deref(),
    )
    .map_err(CliError::Usage)
}

fn key(name: &str) -> Result<ConfigKey, CliError> {
    ConfigKey::parse(name).map_err(|e| CliError::Usage(e.to_string()))
}

/// VALUE is JSON; a bare word that is not JSON is taken as a string.
pub fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn run(cli: Cli, mut settings: Settings) -> Result<(), CliError> {
    if let Some(url) = cli.database {
        validate_database_url(&url).map_err(|reason| {
            CliError::Usage(format!("--database {url:?} is not valid: {reason}"))
        })?;
        settings.database_url = url;
    }
    let actor = Actor::named(ACTOR);
    match cli.command {
        Command::Serve { addr } => {
            if let Some(addr) = addr {
                settings.addr = addr;
            }
            crate::http::serve(settings).await
        }
        Command::Openapi => {
            let document = crate::api::document();
            println!(
                "{}",
                serde_json::to_string_pretty(&document)
                    .map_err(|e| CliError::Service(e.to_string()))?
            );
            Ok(())
        }
        Command::RotateMasterKey => {
            let state = open_state(&settings).await?;
            let done = app::backend::rotation::rotate_master_key(&state, &actor).await?;
            println!(
                "sealed under master key {}: {} entries, {} key defaults, {} audit values, {} change requests re-encrypted",
                done.key, done.entries, done.key_defaults, done.audit_values, done.change_requests
            );
            Ok(())
        }
        Command::Migrate => {
            let database = db::connect(&settings.database_url).await?;
            db::migrate(&database).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Import { file, dry_run } => {
            let input = read_input(&file)?;
            let document: Document = {
                let de = &mut serde_json::Deserializer::from_str(&input);
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    CliError::Usage(format!(
                        "{file}: {}: {inner}",
                        if path == "." { "document".into() } else { path }
                    ))
                })?
            };
            let state = open_state(&settings).await?;
            let report = transfer::import(&state, &actor, &document, dry_run).await?;
            if !report.errors.is_empty() {
                for problem in &report.errors {
                    eprintln!("{problem}");
                }
                return Err(CliError::Reported(format!(
                    "{file}: {} problem(s); nothing was imported",
                    report.errors.len()
                )));
            }
            let verb = if dry_run { "would import" } else { "imported" };
            println!(
                "{verb}: {} created, {} updated, {} unchanged",
                report.created, report.updated, report.unchanged
            );
            Ok(())
        }
        Command::ImportEnv {
            file,
            scope,
            mapping,
            dry_run,
            reason,
        } => {
            let text = read_input(&file)?;
            let scope: Scope = scope.parse().map_err(|e: app::domain::scope::ScopeError| {
                CliError::Usage(format!("--scope: {e}"))
            })?;
            let mapping: Mapping = match mapping {
                Some(path) => {
                    let json = std::fs::read_to_string(&path)
                        .map_err(|e| CliError::Usage(format!("{path}: {e}")))?;
                    serde_json::from_str(&json)
                        .map_err(|e| CliError::Usage(format!("{path}: {e}")))?
                }
                None => Mapping::default(),
            };
            let state = open_state(&settings).await?;
            let mut request = EnvImport {
                scope,
                text,
                mapping,
                reason,
                plan_hash: None,
                dry_run: true,
            };
            let plan = env_import::import_env(&state, None, &actor, request.clone()).await?;
            let report = if dry_run || !plan.errors.is_empty() {
                plan
            } else {
                // The plan just made, applied unless something moved in between.
                request.dry_run = false;
                request.plan_hash = Some(plan.plan_hash);
                env_import::import_env(&state, None, &actor, request).await?
            };
            print!("{}", env_rows_table(&report.rows));
            if !report.errors.is_empty() {
                return Err(CliError::Reported(format!(
                    "{file}: {} row(s) in error; nothing was imported",
                    report.errors.len()
                )));
            }
            let verb = if dry_run { "would import" } else { "imported" };
            println!(
                "{verb}: {} created, {} updated, {} unchanged",
                report.created, report.updated, report.unchanged
            );
            Ok(())
        }
        Command::Export { reveal } => {
            let state = open_state(&settings).await?;
            let document = transfer::export(&state.db, &state.secrets, reveal).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&document).expect("documents serialise")
            );
            Ok(())
        }
        Command::Resolve {
            context: args,
            format,
            reveal,
        } => {
            let spec = context(&args)?;
            let state = open_state(&settings).await?;
            let resolved = resolution::with_effective(&state, &spec, |resolved, _| {
                serde_json::to_value(EffectiveView { resolved, reveal }).expect("values serialise")
            })?;
            if reveal {
                let viewer = resolution::Viewer::Person(&actor);
                resolution::audit_reveal(&state, viewer, &spec, None, &[]).await?;
            }
            let map = resolved.as_object().cloned().unwrap_or_default();
            match format {
                Format::Json => println!("{resolved}"),
                Format::Env => print!("{}", app::domain::dotenv::render(&map)),
                Format::Table => {
                    let rows: Vec<[String; 3]> = map
                        .iter()
                        .map(|(name, r)| {
                            let mut source = match (r["level"].as_str(), r["scope"].as_str()) {
                                (None, _) => "unset".to_owned(),
                                (Some(level), None) => level.to_owned(),
                                (Some(level), Some(scope)) => format!("{level} {scope}"),
                            };
                            if let Some(template) = r["template"].as_str() {
                                source.push_str(&format!(" (template {template})"));
                            }
                            [name.clone(), text(&r["value"]), source]
                        })
                        .collect();
                    print_table(["KEY", "VALUE", "SOURCE"], &rows);
                }
            }
            Ok(())
        }
        Command::Watch {
            context: args,
            reveal,
        } => {
            let spec = context(&args)?.canonical();
            let state = open_state(&settings).await?;
            let (mut watcher, first) = Watcher::start(&state, spec.clone(), reveal, None)?;
            if reveal {
                let viewer = resolution::Viewer::Person(&actor);
                resolution::audit_reveal(&state, viewer, &spec, None, &[]).await?;
            }
            // Subscribed before the follower starts, so no revision is missed.
            let mut published = state.snapshots.subscribe();
            let follower = tokio::spawn(app::backend::feed::follow_any(
                state.clone(),
                settings.database_url.clone(),
                WATCH_POLL,
            ));
            let mut out = std::io::stdout();
            let mut print = |event: WatchEvent| -> Result<(), CliError> {
                use std::io::Write;
                writeln!(out, "{}", event.to_json_line())?;
                Ok(out.flush()?)
            };
            if let Some(first) = first {
                print(first)?;
            }
            let result = loop {
                tokio::select! {
                    changed = published.changed() => if changed.is_err() { break Ok(()) },
                    _ = tokio::signal::ctrl_c() => break Ok(()),
                }
                match watcher.next(&state) {
                    Ok(Some(event)) => print(event)?,
                    Ok(None) => {}
                    // The context is gone.
                    Err(e) => break Err(e.into()),
                }
            };
            follower.abort();
            result
        }
        Command::Chain {
            key: name,
            context: args,
            format,
        } => {
            let spec = context(&args)?;
            let key = key(&name)?;
            let state = open_state(&settings).await?;
            let chain = resolution::chain(&state, &key, &spec, None).await?;
            match format {
                ListFormat::Json => println!("{chain}"),
                ListFormat::Table => {
                    let rows: Vec<[String; 4]> = chain
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| {
                            let scope = match c["template"].as_str() {
                                Some(template) => {
                                    format!("{} (template {template})", text(&c["scope"]))
                                }
                                None => text(&c["scope"]),
                            };
                            [
                                text(&c["level"]),
                                scope,
                                text(&c["value"]),
                                format!(
                                    "{}{}",
                                    text(&c["state"]),
                                    if c["locked"] == true { " (locked)" } else { "" }
                                ),
                            ]
                        })
                        .collect();
                    print_table(["LEVEL", "SCOPE", "VALUE", "STATE"], &rows);
                }
            }
            Ok(())
        }
        Command::Set {
            level,
            key: name,
            value,
            scope: args,
            lock,
            unlock,
            expect_version,
            reason,
        } => {
            let request = entries::SetEntry {
                key: key(&name)?,
                scope: scope(&level, &args)?,
                value: parse_value(&value),
                locked: if lock {
                    Some(true)
                } else if unlock {
                    Some(false)
                } else {
                    None
                },
                expect_version,
                reason,
            };
            let state = open_state(&settings).await?;
            let entry = entries::set_entry(&state, &actor, request)
                .await
                .map_err(conflict_line)?;
            println!(
                "{}",
                serde_json::to_string(&entry).expect("entries serialise")
            );
            Ok(())
        }
        Command::Unset {
            level,
            key: name,
            scope: args,
            expect_version,
            reason,
        } => {
            let key = key(&name)?;
            let scope = scope(&level, &args)?;
            let state = open_state(&settings).await?;
            entries::unset_entry(&state, &actor, &key, &scope, expect_version, reason)
                .await
                .map_err(conflict_line)?;
            println!("removed {key} at {scope}");
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::List {
                    tenant,
                    key,
                    limit,
                    format,
                },
        } => {
            let state = open_state(&settings).await?;
            let events = audit::list(
                &state.db,
                &AuditFilter {
                    tenant,
                    key_prefix: key,
                    limit,
                    ..Default::default()
                },
            )
            .await?;
            match format {
                ListFormat::Json => println!(
                    "{}",
                    serde_json::to_string(&events).expect("events serialise")
                ),
                ListFormat::Table => {
                    let rows: Vec<[String; 6]> = events
                        .iter()
                        .map(|e| {
                            [
                                e.id.to_string(),
                                e.at.clone(),
                                e.actor.clone(),
                                e.action.clone(),
                                [e.level.clone(), e.scope.clone(), e.key.clone()]
                                    .into_iter()
                                    .flatten()
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                format!(
                                    "{} → {}",
                                    e.old_value.clone().unwrap_or_default(),
                                    e.new_value.clone().unwrap_or_default()
                                ),
                            ]
                        })
                        .collect();
                    print_table(["ID", "AT", "ACTOR", "ACTION", "WHERE", "CHANGE"], &rows);
                }
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let state = open_state(&settings).await?;
            match audit::verify(&state.db).await? {
                Ok(count) => {
                    println!("ok {count} events");
                    Ok(())
                }
                Err(broken) => Err(CliError::Reported(format!(
                    "audit chain broken at event {}: {broken}",
                    broken.first_broken()
                ))),
            }
        }
        Command::Admin { command } => admin(&settings, &actor, command).await,
        Command::Demo { if_empty } => {
            let state = open_state(&settings).await?;
            let holds_keys = state
                .snapshots
                .get(None)
                .is_some_and(|s| !s.keys.is_empty());
            if if_empty && holds_keys {
                println!("the database already holds configuration: demo not loaded");
                return Ok(());
            }
            let report = demo::load(&state, &actor).await?;
            println!(
                "demo organisation loaded: {} created, {} updated, {} unchanged",
                report.created, report.updated, report.unchanged
            );
            // A first start (`make run`): so that each kind of admin can be tried. Never in
            // production, and not on a plain `demo`, which scripts run before signing in as
            // the bootstrap `admin` (a demo super admin with a password would stand in for it).
            if if_empty && settings.environment == Environment::Development {
                let admins = demo::admin_passwords(&state, &actor).await?;
                if !admins.is_empty() {
                    println!(
                        "demo admin accounts (development only; the passwords are shown once):"
                    );
                    println!("  {:<16} {:<36} password", "account", "kind");
                    for admin in admins {
                        println!("  {:<16} {:<36} {}", admin.user, admin.kind, admin.password);
                    }
                }
            }
            Ok(())
        }
    }
}

fn traits(list: &str) -> Result<BTreeSet<Trait>, CliError> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<Trait>()
                .map_err(|e| CliError::Usage(e.to_string()))
        })
        .collect()
}

/// The first line of standard input, without its line break.
fn password_from_stdin() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::Usage("no password on standard input".into()));
    }
    Ok(password)
}

async fn admin(settings: &Settings, actor: &Actor, command: AdminCommand) -> Result<(), CliError> {
    match command {
        AdminCommand::Create {
            user,
            name,
            tenant,
            department,
            group,
            traits: list,
            ..
        } => {
            let account = NewAccount {
                slug: slug("user", &user)?,
                name: name.unwrap_or_else(|| user.clone()),
                tenant: tenant.as_deref().map(|t| slug("tenant", t)).transpose()?,
                department: department
                    .as_deref()
                    .map(|d| slug("department", d))
                    .transpose()?,
                groups: group
                    .iter()
                    .map(|g| slug("group", g))
                    .collect::<Result<_, _>>()?,
                traits: traits(list.as_deref().unwrap_or(""))?,
            };
            let password = password_from_stdin()?;
            let state = open_state(settings).await?;
            accounts::create_account(&state, actor, account, password).await?;
            println!("created {user}");
        }
        AdminCommand::SetPassword { user, .. } => {
            let user = slug("user", &user)?;
            let password = password_from_stdin()?;
            let state = open_state(settings).await?;
            accounts::set_password(&state, actor, &user, password).await?;
            println!("password of {user} changed");
        }
        AdminCommand::SetTraits { user, traits: list } => {
            let user = slug("user", &user)?;
            let traits = traits(&list)?;
            let state = open_state(settings).await?;
            accounts::set_traits(&state, actor, &user, &traits).await?;
            let names: Vec<&str> = traits.iter().map(|t| t.as_str()).collect();
            println!("traits of {user}: {}", names.join(","));
        }
        AdminCommand::Disable { user } => {
            let user = slug("user", &user)?;
            let state = open_state(settings).await?;
            accounts::disable(&state, actor, &user).await?;
            println!("{user} is disabled");
        }
    }
    Ok(())
}

/// The text of FILE, or of standard input for `-`.
fn read_input(file: &str) -> Result<String, CliError> {
    if file == "-" {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        Ok(input)
    } else {
        std::fs::read_to_string(file).map_err(|e| CliError::Usage(format!("{file}: {e}")))
    }
}

/// The rows of a `.env` import plan as an aligned table (values as JSON, secrets masked).
fn env_rows_table(rows: &[Row]) -> String {
    let cell = |value: &Option<Value>| value.as_ref().map_or_else(String::new, Value::to_string);
    let lines: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.line.to_string(),
                r.name.clone().unwrap_or_default(),
                r.key.clone().unwrap_or_default(),
                r.status.as_str().to_owned(),
                match (&r.old, &r.new) {
                    (None, None) => String::new(),
                    (old, new) => format!("{} -> {}", cell(old), cell(new)),
                },
                r.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["LINE", "NAME", "KEY", "STATUS", "CHANGE", "MESSAGE"].map(String::from);
    let mut widths = [0; 6];
    for line in std::iter::once(&header).chain(&lines) {
        for (width, text) in widths.iter_mut().zip(line) {
            *width = (*width).max(text.chars().count());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&lines) {
        let mut text = String::new();
        for (i, (width, cell)) in widths.iter().zip(line).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(&format!("{cell:<width$}"));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// A conflict prints the current value with the reason, on one line.
fn conflict_line(err: ServiceError) -> CliError {
    match err {
        ServiceError::Conflict {
            message,
            current: Some(current),
        } => CliError::Service(format!(
            "conflict: {message} (current value {}, locked {})",
            current.value, current.locked
        )),
        ServiceError::Conflict {
            message,
            current: None,
        } => CliError::Service(format!("conflict: {message}")),
        other => other.into(),
    }
}

fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_json_or_bare_strings() {
        assert_eq!(parse_value("20"), serde_json::json!(20));
        assert_eq!(parse_value("true"), serde_json::json!(true));
        assert_eq!(parse_value("\"sip\""), serde_json::json!("sip"));
        assert_eq!(parse_value("sip"), serde_json::json!("sip"));
        assert_eq!(parse_value("[1,2]"), serde_json::json!([1, 2]));
        assert_eq!(parse_value("#2E7D99"), serde_json::json!("#2E7D99"));
    }
}
