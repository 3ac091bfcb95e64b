//! Signing in and out of the console, and who is signed in. The server functions here are
//! public HTTP endpoints like every other: each authorises itself in its body.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::traits::Trait;
use crate::error::WireError;

/// The signed-in account, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: String,
    pub tenant: Option<String>,
    pub department: Option<String>,
    pub traits: Vec<Trait>,
    /// May use the admin console; without it, "My settings" is all there is.
    pub console: bool,
}

/// Checks the user name and password; on success renews the session id and opens the console.
#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), WireError> {
    sign_in(username, password)
        .await
        .map_err(server::with_status)
}

#[cfg(feature = "ssr")]
async fn sign_in(username: String, password: String) -> Result<(), WireError> {
    use crate::backend::accounts::{self, LoginError};
    use crate::domain::policy::{Action, decide};
    let state = server::state()?;
    let client = server::client().await;
    let principal = match accounts::login(&state, &username, password, &client).await {
        Ok(p) => p,
        Err(LoginError::Invalid) => {
            return Err(WireError::Unauthenticated(LoginError::Invalid.to_string()));
        }
        Err(e @ LoginError::Throttled { .. }) => {
            if let (Some(response), LoginError::Throttled { retry_after }) =
                (use_context::<leptos_axum::ResponseOptions>(), &e)
            {
                response.insert_header(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(retry_after.num_seconds().max(1) as u64),
                );
            }
            return Err(WireError::RateLimited(e.to_string()));
        }
        Err(LoginError::Service(e)) => return Err(server::service_error(e)),
    };
    // Every account signs in; one that may not use the admin console gets "My settings".
    let console = decide(&principal, &Action::OpenConsole).is_allowed();
    server::start_session(&principal).await?;
    leptos_axum::redirect(if console { "/" } else { "/me" });
    Ok(())
}

/// Ends the session on the server.
#[server(prefix = "/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), WireError> {
    let session = server::session().await.map_err(server::with_status)?;
    session
        .flush()
        .await
        .map_err(|e| server::with_status(server::internal(e)))?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Who is signed in, if anyone, and whether they may use the admin console.
#[server(prefix = "/fn", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, WireError> {
    use crate::domain::policy::{Action, decide};
    match server::signed_in_principal().await {
        Ok(p) => Ok(Some(Me {
            console: decide(&p, &Action::OpenConsole).is_allowed(),
            user: p.user.to_string(),
            tenant: p.tenant.map(|t| t.to_string()),
            department: p.department.map(|d| d.to_string()),
            traits: p.traits.into_iter().collect(),
        })),
        Err(WireError::Unauthenticated(_)) => Ok(None),
        Err(e) => Err(server::with_status(e)),
    }
}

#[cfg(feature = "ssr")]
pub mod server {
    //! Session plumbing for server functions.

    use serde::{Deserialize, Serialize};
    use tower_sessions::Session;

    use crate::backend::AppState;
    use crate::backend::audit::Actor;
    use crate::domain::policy::Principal;
    use crate::error::WireError;

    /// The session key holding who signed in and when.
    pub const SESSION_KEY: &str = "auth";

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct SessionAuth {
        pub user_id: i64,
        /// Unix seconds of the sign-in; sessions end this long after it whatever the activity.
        pub signed_in_at: i64,
        /// The account's session epoch at sign-in: a password change, reset or disable moves
        /// the account's on, which ends this session.
        #[serde(default)]
        pub epoch: i64,
    }

    /// The application's services. Missing only when a server function runs outside a
    /// request (a resource left over from route generation): an error then, not a panic.
    pub fn state() -> Result<AppState, WireError> {
        leptos::prelude::use_context::<AppState>()
            .ok_or_else(|| internal("no application state in this context"))
    }

    /// Sets the response status that belongs to `err` (server functions answer 500 otherwise).
    /// A plain form post (no JavaScript) keeps the redirect back to its page, which carries
    /// the error in its URL instead.
    pub fn with_status(err: WireError) -> WireError {
        let form_post = leptos::prelude::use_context::<http::request::Parts>().is_some_and(|p| {
            p.headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        });
        if !form_post
            && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
            && let Ok(status) = http::StatusCode::from_u16(err.status())
        {
            response.set_status(status);
        }
        err
    }

    /// A service's refusal or failure as the wire shows it.
    pub fn service_error(err: crate::backend::error::ServiceError) -> WireError {
        with_status(err.into_wire(|e| internal(e)))
    }

    /// A failure to read or write the session: the database being unreachable is
    /// `unavailable`, anything else internal.
    pub fn session_error(err: impl std::fmt::Display) -> WireError {
        let text = err.to_string();
        if text.contains(crate::backend::sessions::UNAVAILABLE) {
            tracing::warn!(error = %text, "the session store is unavailable");
            WireError::Unavailable
        } else {
            internal(text)
        }
    }

    /// Logs an internal failure with the request id and answers only with the id.
    pub fn internal(err: impl std::fmt::Display) -> WireError {
        let request_id = leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|p| {
                p.headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "-".into());
        tracing::error!(request_id, error = %err, "request failed");
        WireError::Internal { request_id }
    }

    pub async fn session() -> Result<Session, WireError> {
        leptos_axum::extract::<Session>().await.map_err(internal)
    }

    /// The client's address and user agent, for the audit.
    pub async fn client() -> Actor {
        use crate::backend::audit::ClientAddress;
        let parts = leptos::prelude::use_context::<http::request::Parts>();
        let address = parts
            .as_ref()
            .and_then(|p| p.extensions.get::<ClientAddress>().copied());
        let agent = parts
            .as_ref()
            .and_then(|p| p.headers.get("user-agent"))
            .and_then(|v| v.to_str().ok());
        Actor::from_client(String::new(), address, agent)
    }

    /// `principal` acting from this request's client, as the audit records them.
    pub async fn actor(principal: &Principal) -> Actor {
        Actor {
            name: principal.user.to_string(),
            ..client().await
        }
    }

    pub async fn start_session(principal: &Principal) -> Result<(), WireError> {
        let state = state()?;
        begin(&state, &session().await?, principal).await
    }

    /// Marks `session` as signed in by `principal`, under a new id: an id planted before
    /// sign-in cannot ride into the signed-in session.
    pub async fn begin(
        state: &AppState,
        session: &Session,
        principal: &Principal,
    ) -> Result<(), WireError> {
        session.cycle_id().await.map_err(internal)?;
        let (user_id, epoch) =
            crate::backend::accounts::session_key(&state.db, principal.user.as_str())
                .await
                .map_err(internal)?
                .ok_or_else(WireError::sign_in)?;
        let auth = SessionAuth {
            user_id,
            signed_in_at: chrono::Utc::now().timestamp(),
            epoch,
        };
        session.insert(SESSION_KEY, auth).await.map_err(internal)
    }

    /// Keeps `session` signed in after its own account changed its password, which ended
    /// every other session of the account: it adopts `epoch`, the epoch that change made (a
    /// later reset by an admin moves the account past it and ends this session too).
    pub async fn keep_after_password_change(
        session: &Session,
        epoch: i64,
    ) -> Result<(), WireError> {
        let Some(mut auth) = session
            .get::<SessionAuth>(SESSION_KEY)
            .await
            .map_err(session_error)?
        else {
            return Ok(());
        };
        auth.epoch = epoch;
        // A new id too: whoever knew the old one is out with the old password.
        session.cycle_id().await.map_err(internal)?;
        session.insert(SESSION_KEY, auth).await.map_err(internal)
    }

    /// The principal signed in on `session`; ends sessions past their lifetime, of disabled
    /// accounts, and those from before the account's last password change.
    pub async fn principal_of(state: &AppState, session: &Session) -> Result<Principal, WireError> {
        let Some(auth) = session
            .get::<SessionAuth>(SESSION_KEY)
            .await
            .map_err(session_error)?
        else {
            return Err(WireError::sign_in());
        };
        if chrono::Utc::now().timestamp() - auth.signed_in_at > state.session_max_age.num_seconds()
        {
            session.flush().await.map_err(internal)?;
            return Err(WireError::Unauthenticated(
                "your session has ended; sign in again".into(),
            ));
        }
        match crate::backend::accounts::session_principal(&state.db, auth.user_id, auth.epoch)
            .await
            .map_err(|e| service_error(e.into()))?
        {
            Some(p) => Ok(p),
            None => {
                session.flush().await.map_err(internal)?;
                Err(WireError::sign_in())
            }
        }
    }

    /// The signed-in principal of this request, console or not: what "My settings" serves.
    pub async fn signed_in_principal() -> Result<Principal, WireError> {
        let state = state()?;
        principal_of(&state, &session().await?).await
    }

    /// The signed-in principal of this request, who must be let into the console: a session
    /// made through the HTTP API by an account without `admin_capable`, or one that lost the
    /// trait since, opens no console function.
    pub async fn current_principal() -> Result<Principal, WireError> {
        use crate::domain::policy::{Action, Decision, decide};
        let state = state()?;
        let principal = principal_of(&state, &session().await?).await?;
        if let Decision::Forbidden(reason) = decide(&principal, &Action::OpenConsole) {
            return Err(WireError::Forbidden(reason));
        }
        Ok(principal)
    }
}
