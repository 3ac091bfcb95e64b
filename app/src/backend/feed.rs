//! Following the change feed across replicas. Every committed change gets a revision (see
//! [`super::audit::AuditWriter::finish`]); on PostgreSQL the same transaction sends it as a
//! notification on [`CHANNEL`], delivered when it commits. [`follow`] keeps a dedicated
//! connection LISTENing and makes the snapshots catch up on each one, so a write on one replica
//! reaches the others at once. Notifications can be lost with a dropped connection, so after
//! every reconnect the snapshots catch up regardless, and the refresher's slow poll stays as the
//! safety net. SQLite is one process: its writes publish in-process, and the poll picks up the
//! CLI's.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;

use super::AppState;

/// The notification channel of committed revisions.
pub const CHANNEL: &str = "strata_changes";

/// Follows the revisions other replicas commit on the PostgreSQL database at `url`, until the
/// task is dropped.
pub async fn follow(state: AppState, url: String) {
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    tracing::info!("following the change feed through PostgreSQL notifications");
                    // Whatever was committed while no one listened.
                    catch_up(&state).await;
                    loop {
                        match listener.try_recv().await {
                            // A revision, or (None) a connection lost and made again.
                            Ok(_) => catch_up(&state).await,
                            Err(err) => {
                                tracing::warn!(error = %err, "the change feed's connection failed");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not listen for changes"),
            },
            Err(err) => tracing::warn!(error = %err, "could not connect to follow changes"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn catch_up(state: &AppState) {
    if let Err(err) = state.snapshots.catch_up(&state.db, &state.secrets).await {
        tracing::warn!(error = %err, "could not catch up with the change feed");
    }
}

/// The safety net: catches up every `every` with whatever the notifications missed (and, on
/// SQLite, with the writes of other processes), until the task is dropped.
pub async fn poll(state: AppState, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state.snapshots.catch_up(&state.db, &state.secrets).await {
            Ok(true) => tracing::info!("configuration changed elsewhere; snapshots caught up"),
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "could not check for configuration changes"),
        }
    }
}

/// Follows the changes of other processes the best way the database allows: notifications
/// on PostgreSQL (with the poll as the safety net), the poll alone on SQLite.
pub async fn follow_any(state: AppState, url: String, every: Duration) {
    if state.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        tokio::join!(follow(state.clone(), url), poll(state, every));
    } else {
        poll(state, every).await;
    }
}
