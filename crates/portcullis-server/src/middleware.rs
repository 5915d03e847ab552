//! Authentication, authorisation and CSRF for every request, and the security headers on every
//! response. Handlers receive a [`Principal`] and never decide access on their own except for
//! per-record checks (a member sees only advisories addressed to them).

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::accounts::{self, Role, User};
use crate::authz::Access;
use crate::error::AppError;
use crate::sessions::{self, Session, Stage};

/// The largest request body taken (forms, JSON, CSV imports).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Who is asking, as the middleware established it.
#[derive(Clone)]
pub struct Principal {
    pub user: Option<User>,
    pub session: Option<Session>,
    /// Signed in with an API bearer token (no cookie, no CSRF token needed).
    pub bearer: bool,
    /// A device's upload token (`pcd_…`): it may submit checks and nothing else.
    pub device: Option<crate::devices::Device>,
    pub address: IpAddr,
}

impl Principal {
    /// The signed-in account (routes other than Public guarantee one; this is the backstop).
    pub fn user(&self) -> Result<&User, AppError> {
        self.user.as_ref().ok_or(AppError::Unauthorized)
    }

    pub fn csrf(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .unwrap_or_default()
    }
}

/// The client's address: the peer's, or for a configured reverse proxy the last address in
/// X-Forwarded-For that is not itself a trusted proxy.
fn client_address(state: &AppState, peer: IpAddr, request: &Request) -> IpAddr {
    if !state.config.trusted_proxies.contains(&peer) {
        return peer;
    }
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !state.config.trusted_proxies.contains(a))
        .unwrap_or(peer)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn authorize(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<crate::config::ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    match authorize_inner(&state, peer.0.ip(), request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn authorize_inner(
    state: &AppState,
    peer: IpAddr,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
    else {
        // No route matched: the fallback answers 404 to anyone.
        return Ok(next.run(request).await);
    };
    let api = crate::authz::is_api_path(&path);
    let wrap = |e: AppError| if api { e.for_api() } else { e };
    let Some(access) = state.access.get(request.method(), &path) else {
        return Err(wrap(AppError::MethodNotAllowed));
    };
    let address = client_address(state, peer, &request);
    let principal = identify(state, request.headers(), address)
        .await
        .map_err(wrap)?;
    check_access(
        access,
        &principal,
        request.method(),
        api,
        request.uri().path(),
    )
    .map_err(wrap)?;
    let mut request = request;
    if !is_safe(request.method()) && !principal.bearer {
        request = check_csrf(state, &principal, request).await.map_err(wrap)?;
    }
    if let Some(session) = &principal.session {
        sessions::touch(&state.db, session)
            .await
            .map_err(AppError::from)?;
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

async fn identify(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    address: IpAddr,
) -> Result<Principal, AppError> {
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        let token = authorization
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.len() <= 64)
            .ok_or(AppError::Unauthorized)?;
        let (user, device) = if token.starts_with("pcd_") {
            (None, crate::devices::by_token(&state.db, token).await?)
        } else if token.starts_with("pc_") {
            (accounts::api_token_user(&state.db, token).await?, None)
        } else {
            (None, None)
        };
        if user.is_none() && device.is_none() {
            // A forged, revoked or mistyped token: refused, and on record.
            crate::audit::record(
                &state.db,
                None,
                "token.refused",
                None,
                Some(address),
                serde_json::json!({}),
            )
            .await?;
            return Err(AppError::Unauthorized);
        }
        return Ok(Principal {
            user,
            session: None,
            bearer: true,
            device,
            address,
        });
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(sessions::from_cookie_header);
    let session = match cookie {
        Some(value) => sessions::find(&state.db, &state.config, value).await?,
        None => None,
    };
    let user = match session.as_ref().and_then(|s| s.user_id) {
        Some(id) => accounts::by_id(&state.db, id)
            .await?
            .filter(|u| !u.disabled),
        None => None,
    };
    // A session whose account was disabled meanwhile is worthless.
    let session = match (&session, &user) {
        (Some(s), None) if s.user_id.is_some() => {
            sessions::delete(&state.db, &s.id_hash).await?;
            None
        }
        _ => session,
    };
    Ok(Principal {
        user,
        session,
        bearer: false,
        device: None,
        address,
    })
}

fn check_access(
    access: Access,
    principal: &Principal,
    method: &Method,
    api: bool,
    path: &str,
) -> Result<(), AppError> {
    let stage = principal.session.as_ref().map(|s| s.stage);
    let full = principal.bearer || stage == Some(Stage::Full);
    let role = principal.user.as_ref().map(|u| u.role);
    // Where an unfinished login must go next (web pages only; the API just says 401).
    let unfinished = || -> AppError {
        if api || !is_safe(method) {
            return AppError::Unauthorized;
        }
        match stage {
            Some(Stage::SecondFactor) => AppError::Redirect("/login/second-factor".into()),
            Some(Stage::EnrolSecondFactor) => AppError::Redirect("/account/second-factor".into()),
            _ => AppError::Redirect(format!("/login?next={}", url_encode(path))),
        }
    };
    let needs_role = |wanted: Role| -> Result<(), AppError> {
        match role {
            _ if !full => Err(unfinished()),
            Some(role) if role >= wanted => Ok(()),
            Some(_) => Err(AppError::Forbidden),
            None => Err(unfinished()),
        }
    };
    match access {
        Access::Public => Ok(()),
        Access::Device if principal.device.is_some() => Ok(()),
        Access::Device => Err(AppError::Unauthorized),
        Access::Reader if principal.device.is_some() => Ok(()),
        Access::Reader => needs_role(Role::Officer),
        Access::SecondFactorDue if stage == Some(Stage::SecondFactor) => Ok(()),
        Access::SecondFactorDue if full => Err(AppError::Forbidden),
        Access::SecondFactorDue => Err(unfinished()),
        Access::Enrolling if stage == Some(Stage::EnrolSecondFactor) => Ok(()),
        Access::Enrolling if principal.bearer => Err(AppError::Forbidden),
        Access::Enrolling => needs_role(Role::Member),
        Access::SignedIn => needs_role(Role::Member),
        Access::Officer => needs_role(Role::Officer),
        Access::Admin => needs_role(Role::Admin),
    }
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Every state-changing request made with a session cookie carries the session's CSRF token (a
/// hidden `csrf` form field or an `X-CSRF-Token` header), and does not come from another site.
async fn check_csrf(
    state: &AppState,
    principal: &Principal,
    request: Request,
) -> Result<Request, AppError> {
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return Err(AppError::CsrfRejected);
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && origin != state.config.public_origin
        && origin != "null"
    {
        return Err(AppError::CsrfRejected);
    }
    let session = principal.session.as_ref().ok_or(AppError::CsrfRejected)?;
    if let Some(token) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return if crate::secrets::constant_time_eq(token, &session.csrf_token) {
            Ok(request)
        } else {
            Err(AppError::CsrfRejected)
        };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::CsrfRejected);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned())
        .ok_or(AppError::CsrfRejected)?;
    if !crate::secrets::constant_time_eq(&token, &session.csrf_token) {
        return Err(AppError::CsrfRejected);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Strict headers on every response: a Content-Security-Policy with no script at all, no
/// framing, no referrer, no caching of pages that may show member data.
pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    state.metrics.response(response.status().as_u16());
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "no-referrer");
    set("cross-origin-opener-policy", "same-origin");
    set("cross-origin-resource-policy", "same-origin");
    set(
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    set(
        "cache-control",
        if is_static {
            "public, max-age=3600"
        } else {
            "no-store"
        },
    );
    if state.config.public_url.starts_with("https://") {
        set(
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}
