//! The server-rendered pages (askama templates in `templates/`, no script). Each handler reads
//! its form, calls the accounts/advisories code or an [`actions`](crate::actions) function, and
//! renders a page or redirects.

use askama::Template;
use axum::Extension;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::{self, Role, Throttle};
use crate::advisories::{self, Audience, Draft, Severity, State as AdvisoryState};
use crate::error::AppError;
use crate::middleware::Principal;
use crate::sessions::{self, Stage};
use crate::{AppState, actions, audit};

/// A Unix time as a date members read ("4 Dec 2026").
pub fn date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%-d %b %Y").to_string())
        .unwrap_or_default()
}

fn date_time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%-d %b %Y %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn optional_date(unix: Option<i64>) -> String {
    unix.map(date).unwrap_or_default()
}

/// What every page's layout needs.
pub struct Page {
    pub title: String,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub notice: Option<String>,
}

pub struct NavUser {
    pub name: String,
    pub officer: bool,
    pub admin: bool,
}

impl Page {
    fn new(title: &str, who: &Principal) -> Page {
        let signed_in = who.session.as_ref().is_some_and(|s| s.stage == Stage::Full);
        Page {
            title: title.to_string(),
            user: who.user.as_ref().filter(|_| signed_in).map(|u| NavUser {
                name: u.display_name.clone(),
                officer: u.role >= Role::Officer,
                admin: u.role == Role::Admin,
            }),
            csrf: who.csrf(),
            notice: None,
        }
    }

    fn with_notice(mut self, notice: impl Into<String>) -> Page {
        self.notice = Some(notice.into());
        self
    }
}

fn render<T: Template>(template: &T) -> Result<Html<String>, AppError> {
    template
        .render()
        .map(Html)
        .map_err(|e| AppError::Internal(format!("rendering a page: {e}")))
}

fn render_status<T: Template>(status: StatusCode, template: &T) -> Result<Response, AppError> {
    Ok((status, render(template)?).into_response())
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Page,
    message: &'a str,
}

/// The page for an error status (no account details: the error may come before sign-in).
pub fn error_page(status: StatusCode, message: &str) -> String {
    let page = Page {
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        user: None,
        csrf: String::new(),
        notice: None,
    };
    ErrorPage { page, message }
        .render()
        .unwrap_or_else(|_| "<!DOCTYPE html><title>Error</title><p>Error</p>".into())
}

/// A form body (`application/x-www-form-urlencoded`), keeping repeated fields (checkboxes).
pub struct FormData(Vec<(String, String)>);

impl FormData {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<FormData, AppError> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(AppError::BadRequest("the form is not valid UTF-8".into()));
        }
        Ok(FormData(
            url::form_urlencoded::parse(&bytes)
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// A record id from the path; anything but a positive integer is simply not found.
fn record_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// A local path to return to after login; anything else (another site, `//host`) goes home.
fn safe_next(next: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2000;
    if local && !next.starts_with("/login") {
        next.to_string()
    } else {
        "/advisories".into()
    }
}

/// The session a login or invitation form posts back with (it carries the CSRF token), made
/// when the visitor has none.
async fn form_session(state: &AppState, who: &mut Principal) -> Result<Option<String>, AppError> {
    if who.session.is_some() {
        return Ok(None);
    }
    let (cookie, session) = sessions::create(&state.db, None, Stage::Anonymous).await?;
    who.session = Some(session);
    Ok(Some(sessions::set_cookie(&cookie, &state.config)))
}

fn maybe_cookie(response: Response, cookie: Option<String>) -> Response {
    match cookie {
        Some(c) => with_cookie(response, &c),
        None => response,
    }
}

pub async fn home(Extension(who): Extension<Principal>) -> Response {
    let full = who.bearer || who.session.as_ref().is_some_and(|s| s.stage == Stage::Full);
    see_other(if who.user.is_some() && full {
        "/advisories"
    } else {
        "/login"
    })
}

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the database answers and its schema is this version's (a load balancer sends
/// requests only to an instance that says so).
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    match crate::db::schema_is_current(&state.db).await {
        Ok(true) => Ok("ready\n"),
        Ok(false) => Err(AppError::Unavailable),
        Err(e) => {
            tracing::warn!("not ready: {e}");
            Err(AppError::Unavailable)
        }
    }
}

/// Prometheus metrics, for a scraper on this machine (or behind the proxy's allow-list): a
/// request from elsewhere is answered as if there were nothing here.
pub async fn metrics(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, AppError> {
    if !who.address.is_loopback() {
        return Err(AppError::NotFound);
    }
    let count = |sql: &'static str| {
        let pool = state.db.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await }
    };
    let gauges = [
        (
            "portcullis_accounts",
            "Enabled accounts.",
            count("SELECT COUNT(*) FROM users WHERE disabled = 0").await?,
        ),
        (
            "portcullis_devices",
            "Devices with an unrevoked upload token.",
            count("SELECT COUNT(*) FROM devices WHERE revoked = 0").await?,
        ),
        (
            "portcullis_incidents_open",
            "Incidents open or being investigated.",
            count("SELECT COUNT(*) FROM incidents WHERE state IN ('open', 'investigating')")
                .await?,
        ),
        (
            "portcullis_advisories_published",
            "Published advisories.",
            count("SELECT COUNT(*) FROM advisories WHERE state = 'published'").await?,
        ),
    ];
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response())
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/style.css"),
    )
}

pub async fn not_found(uri: axum::http::Uri) -> AppError {
    if crate::authz::is_api_path(uri.path()) {
        AppError::NotFound.for_api()
    } else {
        AppError::NotFound
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    error: Option<String>,
    email: String,
    next: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    welcome: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    Extension(mut who): Extension<Principal>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    if who.session.as_ref().is_some_and(|s| s.stage == Stage::Full) {
        return Ok(see_other(&safe_next(&query.next)));
    }
    let cookie = form_session(&state, &mut who).await?;
    let mut page = Page::new("Sign in", &who);
    if query.welcome.is_some() {
        page = page.with_notice("Your password is set. Sign in with it now.");
    }
    let body = render(&LoginPage {
        page,
        error: None,
        email: String::new(),
        next: query.next,
    })?;
    Ok(maybe_cookie(body.into_response(), cookie))
}

/// After the password: a member is signed in; an officer or admin (and a member who chose one)
/// still owes the second factor, or must first set it up.
fn stage_after_password(user: &accounts::User) -> Stage {
    if user.totp_enabled {
        Stage::SecondFactor
    } else if user.role.needs_second_factor() {
        Stage::EnrolSecondFactor
    } else {
        Stage::Full
    }
}

/// Replaces the visitor's session with a new one at `stage` (new id, new CSRF token).
async fn rotate(
    state: &AppState,
    who: &Principal,
    user_id: i64,
    stage: Stage,
) -> Result<String, AppError> {
    if let Some(old) = &who.session {
        sessions::delete(&state.db, &old.id_hash).await?;
    }
    let (cookie, _) = sessions::create(&state.db, Some(user_id), stage).await?;
    Ok(sessions::set_cookie(&cookie, &state.config))
}

pub async fn login(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    let email = form.get("email").trim().to_string();
    let password = form.get("password");
    let next = form.get("next").to_string();
    let refuse = |status: StatusCode, error: &str| {
        render_status(
            status,
            &LoginPage {
                page: Page::new("Sign in", &who),
                error: Some(error.to_string()),
                email: email.clone(),
                next: next.clone(),
            },
        )
    };
    if email.len() > 254 || password.len() > crate::secrets::MAX_PASSWORD_CHARS * 4 {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The e-mail address or password is too long.",
        );
    }
    match accounts::throttle(&state.db, &email, who.address).await? {
        Throttle::Open => {}
        Throttle::AddressLimited => {
            audit::record(
                &state.db,
                None,
                "login.throttled",
                Some(email.clone()),
                Some(who.address),
                json!({}),
            )
            .await?;
            return Err(AppError::TooManyRequests);
        }
        Throttle::AccountLocked => {
            audit::record(
                &state.db,
                None,
                "login.locked",
                Some(email.clone()),
                Some(who.address),
                json!({}),
            )
            .await?;
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "This account is locked for 15 minutes after too many failed attempts. If it was not you, tell the security office.",
            );
        }
    }
    let user = accounts::by_email(&state.db, &email).await?;
    let verified = accounts::verify_blocking(
        password,
        user.as_ref().and_then(|u| u.password_hash.as_deref()),
    )
    .await;
    let user = match user {
        Some(user) if verified && !user.disabled => user,
        _ => {
            accounts::record_failure(&state.db, &email, who.address).await?;
            crate::metrics::Metrics::add(&state.metrics.logins_failed, 1);
            audit::record(
                &state.db,
                None,
                "login.failed",
                Some(email.clone()),
                Some(who.address),
                json!({ "step": "password" }),
            )
            .await?;
            return refuse(
                StatusCode::UNAUTHORIZED,
                "The e-mail address or password is wrong.",
            );
        }
    };
    accounts::clear_failures(&state.db, user.id).await?;
    let stage = stage_after_password(&user);
    let cookie = rotate(&state, &who, user.id, stage).await?;
    let to = match stage {
        Stage::Full => {
            audit::record(
                &state.db,
                Some(&user),
                "login.succeeded",
                None,
                Some(who.address),
                json!({ "second_factor": false }),
            )
            .await?;
            safe_next(&next)
        }
        Stage::SecondFactor => "/login/second-factor".into(),
        _ => "/account/second-factor".into(),
    };
    Ok(with_cookie(see_other(&to), &cookie))
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    page: Page,
    error: Option<String>,
}

pub async fn second_factor_form(
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    render(&SecondFactorPage {
        page: Page::new("Authenticator code", &who),
        error: None,
    })
}

pub async fn second_factor(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    let user = who.user()?.clone();
    if accounts::throttle(&state.db, &user.email, who.address).await? != Throttle::Open {
        audit::record(
            &state.db,
            Some(&user),
            "login.locked",
            Some(user.email.clone()),
            Some(who.address),
            json!({ "step": "second_factor" }),
        )
        .await?;
        return Err(AppError::TooManyRequests);
    }
    if !accounts::verify_second_factor(&state.db, &user, form.get("code")).await? {
        accounts::record_failure(&state.db, &user.email, who.address).await?;
        crate::metrics::Metrics::add(&state.metrics.logins_failed, 1);
        audit::record(
            &state.db,
            Some(&user),
            "login.failed",
            Some(user.email.clone()),
            Some(who.address),
            json!({ "step": "second_factor" }),
        )
        .await?;
        return render_status(
            StatusCode::UNAUTHORIZED,
            &SecondFactorPage {
                page: Page::new("Authenticator code", &who),
                error: Some("That code is wrong or has already been used. Wait for the next code and try again.".into()),
            },
        );
    }
    accounts::clear_failures(&state.db, user.id).await?;
    let cookie = rotate(&state, &who, user.id, Stage::Full).await?;
    audit::record(
        &state.db,
        Some(&user),
        "login.succeeded",
        None,
        Some(who.address),
        json!({ "second_factor": true }),
    )
    .await?;
    Ok(with_cookie(see_other("/advisories"), &cookie))
}

pub async fn logout(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, AppError> {
    if let Some(session) = &who.session {
        sessions::delete(&state.db, &session.id_hash).await?;
    }
    audit::record(
        &state.db,
        who.user.as_ref(),
        "logout",
        None,
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(with_cookie(
        see_other("/login"),
        &sessions::clear_cookie(&state.config),
    ))
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    page: Page,
    required: bool,
    error: Option<String>,
    secret: String,
    uri: String,
}

async fn enrol_page(
    state: &AppState,
    who: &Principal,
    error: Option<String>,
) -> Result<EnrolPage, AppError> {
    let user = who.user()?;
    let session = who.session.as_ref().ok_or(AppError::Unauthorized)?;
    let secret = match &session.pending_totp_secret {
        Some(secret) => secret.clone(),
        None => {
            let secret = crate::totp::new_secret();
            sessions::set_pending_totp(&state.db, &session.id_hash, &secret).await?;
            secret
        }
    };
    Ok(EnrolPage {
        page: Page::new("Set up an authenticator", who),
        required: session.stage == Stage::EnrolSecondFactor,
        error,
        uri: crate::totp::provisioning_uri(&secret, &user.email),
        secret,
    })
}

pub async fn enrol_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    render(&enrol_page(&state, &who, None).await?)
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    page: Page,
    codes: Vec<String>,
}

pub async fn enrol(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    let user = who.user()?.clone();
    let session = who.session.clone().ok_or(AppError::Unauthorized)?;
    let pending = session.pending_totp_secret.clone();
    let step = pending
        .as_deref()
        .and_then(|secret| crate::totp::verify(secret, form.get("code"), crate::now()));
    let (Some(secret), Some(step)) = (pending, step) else {
        let page = enrol_page(
            &state,
            &who,
            Some("That code does not match. Check the key you typed and try the next code.".into()),
        )
        .await?;
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let codes = accounts::enable_second_factor(&state.db, user.id, &secret).await?;
    // The enrolment code may not be replayed as a login code.
    sqlx::query("INSERT INTO totp_used (user_id, step) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user.id)
        .bind(step)
        .execute(&state.db.pool)
        .await?;
    audit::record(
        &state.db,
        Some(&user),
        "second_factor.enrolled",
        Some(user.email.clone()),
        Some(who.address),
        json!({}),
    )
    .await?;
    let cookie = rotate(&state, &who, user.id, Stage::Full).await?;
    let mut signed_in = who.clone();
    if let Some(session) = signed_in.session.as_mut() {
        session.stage = Stage::Full;
    }
    let body = render(&RecoveryCodesPage {
        page: Page::new("Recovery codes", &signed_in),
        codes,
    })?;
    Ok(with_cookie(body.into_response(), &cookie))
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    page: Page,
    email: String,
    token: String,
    error: Option<String>,
}

pub async fn invitation_form(
    State(state): State<AppState>,
    Extension(mut who): Extension<Principal>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let user = accounts::invitation_user(&state.db, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    let cookie = form_session(&state, &mut who).await?;
    let body = render(&InvitePage {
        page: Page::new("Choose your password", &who),
        email: user.email,
        token,
        error: None,
    })?;
    Ok(maybe_cookie(body.into_response(), cookie))
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(token): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let user = accounts::invitation_user(&state.db, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    let password = form.get("password");
    let problem = if password != form.get("confirm") {
        Some("The two passwords are not the same.".to_string())
    } else {
        crate::secrets::password_problem(password)
    };
    if let Some(error) = problem {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &InvitePage {
                page: Page::new("Choose your password", &who),
                email: user.email,
                token,
                error: Some(error),
            },
        );
    }
    let user = accounts::accept_invitation(&state.db, &token, password).await?;
    audit::record(
        &state.db,
        Some(&user),
        "invitation.accepted",
        Some(user.email.clone()),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(see_other("/login?welcome=1"))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    page: Page,
    name: String,
    email: String,
    role: &'static str,
    groups: String,
    totp: bool,
    recovery_left: i64,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

struct TokenRow {
    id: i64,
    name: String,
    created: String,
    last_used: String,
    revoked: bool,
}

async fn account_page(
    state: &AppState,
    who: &Principal,
    new_token: Option<String>,
) -> Result<Html<String>, AppError> {
    let user = who.user()?;
    let groups = accounts::groups_of(&state.db, user.id).await?;
    let tokens = accounts::api_tokens_of(&state.db, user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created: date(t.created_at),
            last_used: t.last_used.map(date_time).unwrap_or_else(|| "never".into()),
            revoked: t.revoked,
        })
        .collect();
    render(&AccountPage {
        page: Page::new("Your account", who),
        name: user.display_name.clone(),
        email: user.email.clone(),
        role: user.role.as_str(),
        groups: if groups.is_empty() {
            "none".into()
        } else {
            groups.join(", ")
        },
        totp: user.totp_enabled,
        recovery_left: accounts::unused_recovery_codes(&state.db, user.id).await?,
        tokens,
        new_token,
    })
}

pub async fn account(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    account_page(&state, &who, None).await
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Html<String>, AppError> {
    let user = who.user()?;
    let token = accounts::create_api_token(&state.db, user.id, form.get("name")).await?;
    audit::record(
        &state.db,
        Some(user),
        "api_token.created",
        Some(form.get("name").to_string()),
        Some(who.address),
        json!({}),
    )
    .await?;
    account_page(&state, &who, Some(token)).await
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = who.user()?;
    let id = record_id(&id)?;
    if !accounts::revoke_api_token(&state.db, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &state.db,
        Some(user),
        "api_token.revoked",
        Some(format!("token {id}")),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(see_other("/account"))
}

#[derive(Template)]
#[template(path = "advisories.html")]
struct AdvisoriesPage {
    page: Page,
    officer: bool,
    rows: Vec<AdvisoryRow>,
}

struct AdvisoryRow {
    id: i64,
    title: String,
    severity: &'static str,
    state: &'static str,
    due: String,
    progress: String,
}

pub async fn advisories(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    let user = who.user()?;
    let officer = user.role >= Role::Officer;
    let mut rows = Vec::new();
    if officer {
        for a in advisories::all(&state.db).await? {
            let recipients = advisories::recipients(&state.db, a.id).await?;
            let acknowledged = recipients
                .iter()
                .filter(|r| r.acknowledged_at.is_some())
                .count();
            rows.push(AdvisoryRow {
                id: a.id,
                severity: a.severity.as_str(),
                state: a.state.as_str(),
                due: optional_date(a.acknowledge_by),
                progress: format!("{acknowledged} of {}", recipients.len()),
                title: a.title,
            });
        }
    } else {
        for item in advisories::for_member(&state.db, user).await? {
            let a = item.advisory;
            rows.push(AdvisoryRow {
                id: a.id,
                severity: a.severity.as_str(),
                state: a.state.as_str(),
                due: optional_date(a.acknowledge_by),
                progress: match (item.read_at, item.acknowledged_at) {
                    (_, Some(at)) => format!("Done: acknowledged on {}", date(at)),
                    (Some(_), None) => "Read, not yet acknowledged".into(),
                    (None, None) => "New".into(),
                },
                title: a.title,
            });
        }
    }
    render(&AdvisoriesPage {
        page: Page::new("Advisories", &who),
        officer,
        rows,
    })
}

#[derive(Template)]
#[template(path = "advisory.html")]
struct AdvisoryPage {
    page: Page,
    id: i64,
    title: String,
    severity: &'static str,
    state: &'static str,
    due: String,
    rule: Option<String>,
    body: String,
    officer: bool,
    recipient: bool,
    acknowledged_at: Option<String>,
    steps: Vec<String>,
    error: Option<String>,
}

async fn advisory_page(
    state: &AppState,
    who: &Principal,
    id: i64,
    error: Option<String>,
) -> Result<AdvisoryPage, AppError> {
    let user = who.user()?;
    let (advisory, recipient) = actions::view(state, user, id).await?;
    let acknowledged_at: Option<i64> = sqlx::query_scalar(
        "SELECT acknowledged_at FROM advisory_receipts WHERE advisory_id = $1 AND user_id = $2",
    )
    .bind(advisory.id)
    .bind(user.id)
    .fetch_optional(&state.db.pool)
    .await?
    .flatten();
    let rule = advisory.posture_rule.as_ref().map(|id| {
        advisories::posture_rules()
            .into_iter()
            .find(|(rule, _)| rule == id)
            .map(|(_, title)| title)
            .unwrap_or_else(|| id.clone())
    });
    Ok(AdvisoryPage {
        page: Page::new(&advisory.title, who),
        id: advisory.id,
        severity: advisory.severity.as_str(),
        state: advisory.state.as_str(),
        due: optional_date(advisory.acknowledge_by),
        rule,
        body: advisory.html(),
        officer: user.role >= Role::Officer,
        recipient,
        acknowledged_at: acknowledged_at.map(date_time),
        steps: advisory.steps(),
        error,
        title: advisory.title,
    })
}

pub async fn advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    render(&advisory_page(&state, &who, record_id(&id)?, None).await?)
}

#[derive(Template)]
#[template(path = "advisory_form.html")]
struct AdvisoryFormPage {
    page: Page,
    id: Option<i64>,
    action: String,
    error: Option<String>,
    form: AdvisoryFormValues,
    severities: Vec<&'static str>,
    groups: Vec<GroupChoice>,
    rules: Vec<(String, String)>,
}

#[derive(Default)]
struct AdvisoryFormValues {
    title: String,
    body: String,
    severity: String,
    everyone: bool,
    members: String,
    acknowledge_by: String,
    posture_rule: String,
    groups: Vec<i64>,
}

struct GroupChoice {
    id: i64,
    name: String,
    members: i64,
    checked: bool,
}

impl AdvisoryFormValues {
    fn from_form(form: &FormData) -> AdvisoryFormValues {
        AdvisoryFormValues {
            title: form.get("title").to_string(),
            body: form.get("body").to_string(),
            severity: form.get("severity").to_string(),
            everyone: !form.get("everyone").is_empty(),
            members: form.get("members").to_string(),
            acknowledge_by: form.get("acknowledge_by").to_string(),
            posture_rule: form.get("posture_rule").to_string(),
            groups: form.all("group").filter_map(|g| g.parse().ok()).collect(),
        }
    }

    fn from_advisory(a: &advisories::Advisory) -> AdvisoryFormValues {
        AdvisoryFormValues {
            title: a.title.clone(),
            body: a.body_markdown.clone(),
            severity: a.severity.as_str().into(),
            everyone: a.audience.everyone,
            members: a.audience.members.join("\n"),
            acknowledge_by: a
                .acknowledge_by
                .and_then(|t| jiff::Timestamp::from_second(t).ok())
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            posture_rule: a.posture_rule.clone().unwrap_or_default(),
            groups: a.audience.groups.clone(),
        }
    }

    fn draft(&self) -> Result<Draft, AppError> {
        let severity = Severity::parse(&self.severity)
            .ok_or_else(|| AppError::Unprocessable("choose a severity".into()))?;
        let acknowledge_by = match self.acknowledge_by.trim() {
            "" => None,
            text => {
                let day: jiff::civil::Date = text.parse().map_err(|_| {
                    AppError::Unprocessable("the acknowledge-by date is not a date".into())
                })?;
                let end = jiff::tz::TimeZone::UTC
                    .to_timestamp(day.at(23, 59, 59, 0))
                    .map_err(|_| {
                        AppError::Unprocessable("the acknowledge-by date is out of range".into())
                    })?;
                Some(end.as_second())
            }
        };
        Ok(Draft {
            title: self.title.clone(),
            body_markdown: self.body.replace("\r\n", "\n"),
            severity,
            audience: Audience {
                everyone: self.everyone,
                groups: self.groups.clone(),
                members: self
                    .members
                    .split(['\n', ',', ';'])
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
            acknowledge_by,
            posture_rule: Some(self.posture_rule.trim().to_string()).filter(|r| !r.is_empty()),
        })
    }
}

async fn advisory_form(
    state: &AppState,
    who: &Principal,
    id: Option<i64>,
    form: AdvisoryFormValues,
    error: Option<String>,
) -> Result<AdvisoryFormPage, AppError> {
    let groups = accounts::groups(&state.db)
        .await?
        .into_iter()
        .map(|g| GroupChoice {
            checked: form.groups.contains(&g.id),
            id: g.id,
            name: g.name,
            members: g.members,
        })
        .collect();
    Ok(AdvisoryFormPage {
        page: Page::new(
            if id.is_some() {
                "Edit draft"
            } else {
                "New advisory"
            },
            who,
        ),
        action: match id {
            Some(id) => format!("/advisories/{id}/edit"),
            None => "/advisories".into(),
        },
        id,
        error,
        form,
        severities: Severity::ALL.iter().map(|s| s.as_str()).collect(),
        groups,
        rules: advisories::posture_rules(),
    })
}

pub async fn new_advisory_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    let values = AdvisoryFormValues {
        severity: "medium".into(),
        ..AdvisoryFormValues::default()
    };
    render(&advisory_form(&state, &who, None, values, None).await?)
}

/// Saves the form as a new draft (`id` None) or over a draft; a bad form comes back with its
/// values and the reason.
async fn save_advisory(
    state: &AppState,
    who: &Principal,
    id: Option<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let values = AdvisoryFormValues::from_form(&form);
    let result = match values.draft() {
        Ok(draft) => match id {
            None => actions::create(state, who, &draft).await,
            Some(id) => actions::update(state, who, id, &draft).await,
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(advisory) => Ok(see_other(&format!("/advisories/{}", advisory.id))),
        Err(AppError::Unprocessable(reason)) => {
            let page = advisory_form(state, who, id, values, Some(reason)).await?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other),
    }
}

pub async fn create_advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    save_advisory(&state, &who, None, form).await
}

pub async fn edit_advisory_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let advisory = advisories::get(&state.db, record_id(&id)?)
        .await?
        .ok_or(AppError::NotFound)?;
    if advisory.state != AdvisoryState::Draft {
        return Err(AppError::Conflict(
            "Only a draft can be edited; this advisory is already published or archived.".into(),
        ));
    }
    let values = AdvisoryFormValues::from_advisory(&advisory);
    render(&advisory_form(&state, &who, Some(advisory.id), values, None).await?)
}

pub async fn update_advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    save_advisory(&state, &who, Some(record_id(&id)?), form).await
}

pub async fn publish_advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let advisory =
        actions::transition(&state, &who, record_id(&id)?, AdvisoryState::Published).await?;
    Ok(see_other(&format!("/advisories/{}", advisory.id)))
}

pub async fn archive_advisory(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let advisory =
        actions::transition(&state, &who, record_id(&id)?, AdvisoryState::Archived).await?;
    Ok(see_other(&format!("/advisories/{}", advisory.id)))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let id = record_id(&id)?;
    let mut ticked: Vec<&str> = form.all("step").collect();
    ticked.sort_unstable();
    ticked.dedup();
    match actions::acknowledge(&state, &who, id, ticked.len()).await {
        Ok(advisory) => Ok(see_other(&format!("/advisories/{}", advisory.id))),
        Err(AppError::Unprocessable(reason)) => {
            let page = advisory_page(&state, &who, id, Some(reason)).await?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "advisory_status.html")]
struct StatusPage {
    page: Page,
    id: i64,
    title: String,
    total: usize,
    read: usize,
    acknowledged: usize,
    pending: usize,
    rows: Vec<StatusRow>,
    outcome: Option<String>,
}

struct StatusRow {
    name: String,
    email: String,
    read: String,
    acknowledged: String,
    reminded: String,
    class: &'static str,
}

async fn status_page(
    state: &AppState,
    who: &Principal,
    id: i64,
    outcome: Option<String>,
) -> Result<Html<String>, AppError> {
    let advisory = advisories::get(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let recipients = advisories::recipients(&state.db, id).await?;
    let acknowledged = recipients
        .iter()
        .filter(|r| r.acknowledged_at.is_some())
        .count();
    let rows = recipients
        .iter()
        .map(|r| StatusRow {
            name: r.display_name.clone(),
            email: r.email.clone(),
            read: r.read_at.map(date_time).unwrap_or_else(|| "not yet".into()),
            acknowledged: r
                .acknowledged_at
                .map(date_time)
                .unwrap_or_else(|| "not yet".into()),
            reminded: r.last_reminded_at.map(date_time).unwrap_or_default(),
            class: if r.acknowledged_at.is_some() {
                ""
            } else {
                "pending"
            },
        })
        .collect();
    render(&StatusPage {
        page: Page::new("Acknowledgements", who),
        id,
        total: recipients.len(),
        read: recipients.iter().filter(|r| r.read_at.is_some()).count(),
        acknowledged,
        pending: recipients.len() - acknowledged,
        rows,
        outcome,
        title: advisory.title,
    })
}

pub async fn advisory_status(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    status_page(&state, &who, record_id(&id)?, None).await
}

pub async fn remind(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let (advisory, outcome) = actions::remind(&state, &who, record_id(&id)?).await?;
    let mut parts = Vec::new();
    if !outcome.sent.is_empty() {
        parts.push(format!("Reminder e-mailed to {}.", outcome.sent.join(", ")));
    }
    if !outcome.failed.is_empty() {
        let names: Vec<&str> = outcome.failed.iter().map(|(who, _)| who.as_str()).collect();
        parts.push(format!(
            "Could not e-mail {} (the server log says why).",
            names.join(", ")
        ));
    }
    if !outcome.recorded_only.is_empty() {
        parts.push(format!(
            "E-mail is not configured: reminders for {} were recorded but not sent.",
            outcome.recorded_only.join(", ")
        ));
    }
    if parts.is_empty() {
        parts.push("Everyone has acknowledged: no reminder was needed.".into());
    }
    status_page(&state, &who, advisory.id, Some(parts.join(" "))).await
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    page: Page,
    error: Option<String>,
    links: Vec<(String, String)>,
    invitation_days: i64,
    users: Vec<UserRow>,
    groups: Vec<accounts::Group>,
}

struct UserRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    totp: &'static str,
    has_totp: bool,
    state: &'static str,
    disabled: bool,
}

async fn users_page(
    state: &AppState,
    who: &Principal,
    links: Vec<(String, String)>,
    error: Option<String>,
) -> Result<Html<String>, AppError> {
    let users = accounts::all(&state.db)
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            role: u.role.as_str(),
            totp: if u.totp_enabled { "on" } else { "off" },
            has_totp: u.totp_enabled,
            state: if u.disabled {
                "disabled"
            } else if u.password_hash.is_none() {
                "invited"
            } else {
                "active"
            },
            disabled: u.disabled,
            name: u.display_name,
            email: u.email,
        })
        .collect();
    render(&UsersPage {
        page: Page::new("Accounts", who),
        error,
        links,
        invitation_days: accounts::INVITATION_DAYS,
        users,
        groups: accounts::groups(&state.db).await?,
    })
}

fn invitation_link(state: &AppState, token: &str) -> String {
    format!("{}/invite/{token}", state.config.public_url)
}

pub async fn users(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    users_page(&state, &who, Vec::new(), None).await
}

/// Renders the accounts page with the form's error (422) instead of failing the request.
async fn users_or_error(
    state: &AppState,
    who: &Principal,
    result: Result<Vec<(String, String)>, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(links) => Ok(users_page(state, who, links, None).await?.into_response()),
        Err(AppError::Unprocessable(reason)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            users_page(state, who, Vec::new(), Some(reason)).await?,
        )
            .into_response()),
        Err(other) => Err(other),
    }
}

pub async fn create_user(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    let admin = who.user()?;
    let result = async {
        let role = Role::parse(form.get("role"))
            .ok_or_else(|| AppError::Unprocessable("choose a role".into()))?;
        let user =
            accounts::create_user(&state.db, form.get("email"), form.get("name"), role, None)
                .await?;
        let token = accounts::invite(&state.db, user.id, Some(admin.id)).await?;
        audit::record(
            &state.db,
            Some(admin),
            "user.created",
            Some(user.email.clone()),
            Some(who.address),
            json!({ "role": role }),
        )
        .await?;
        Ok(vec![(user.email, invitation_link(&state, &token))])
    }
    .await;
    users_or_error(&state, &who, result).await
}

pub async fn import_users(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    let admin = who.user()?;
    let result = async {
        let imported = accounts::import_members(&state.db, form.get("csv"), admin.id).await?;
        let emails: Vec<&str> = imported.iter().map(|i| i.email.as_str()).collect();
        audit::record(
            &state.db,
            Some(admin),
            "users.imported",
            None,
            Some(who.address),
            json!({ "count": imported.len(), "emails": emails }),
        )
        .await?;
        Ok(imported
            .into_iter()
            .map(|i| {
                let link = invitation_link(&state, &i.invitation);
                (i.email, link)
            })
            .collect())
    }
    .await;
    users_or_error(&state, &who, result).await
}

/// The account an admin action is about; an admin cannot lock themselves out this way.
async fn target_user(
    state: &AppState,
    who: &Principal,
    id: &str,
) -> Result<accounts::User, AppError> {
    let user = accounts::by_id(&state.db, record_id(id)?)
        .await?
        .ok_or(AppError::NotFound)?;
    if user.id == who.user()?.id {
        return Err(AppError::Conflict(
            "Use the command line (portcullis admin) to change your own account.".into(),
        ));
    }
    Ok(user)
}

pub async fn disable_user(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = target_user(&state, &who, &id).await?;
    accounts::set_disabled(&state.db, user.id, true).await?;
    audit::record(
        &state.db,
        who.user.as_ref(),
        "user.disabled",
        Some(user.email),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(see_other("/admin/users"))
}

pub async fn enable_user(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = target_user(&state, &who, &id).await?;
    accounts::set_disabled(&state.db, user.id, false).await?;
    audit::record(
        &state.db,
        who.user.as_ref(),
        "user.enabled",
        Some(user.email),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(see_other("/admin/users"))
}

pub async fn reinvite_user(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let user = target_user(&state, &who, &id).await?;
    let token = accounts::invite(&state.db, user.id, who.user.as_ref().map(|u| u.id)).await?;
    audit::record(
        &state.db,
        who.user.as_ref(),
        "invitation.created",
        Some(user.email.clone()),
        Some(who.address),
        json!({}),
    )
    .await?;
    users_page(
        &state,
        &who,
        vec![(user.email, invitation_link(&state, &token))],
        None,
    )
    .await
}

pub async fn reset_user_second_factor(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = target_user(&state, &who, &id).await?;
    accounts::reset_second_factor(&state.db, user.id).await?;
    audit::record(
        &state.db,
        who.user.as_ref(),
        "second_factor.reset",
        Some(user.email),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(see_other("/admin/users"))
}

pub async fn add_user_to_group(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let user = accounts::by_id(&state.db, record_id(&id)?)
        .await?
        .ok_or(AppError::NotFound)?;
    let group_id: i64 = form
        .get("group")
        .parse()
        .map_err(|_| AppError::Unprocessable("choose a group".into()))?;
    let group = accounts::groups(&state.db)
        .await?
        .into_iter()
        .find(|g| g.id == group_id)
        .ok_or_else(|| AppError::Unprocessable("there is no such group".into()))?;
    accounts::add_to_group(&state.db, group.id, user.id).await?;
    audit::record(
        &state.db,
        who.user.as_ref(),
        "group.member_added",
        Some(user.email),
        Some(who.address),
        json!({ "group": group.name }),
    )
    .await?;
    Ok(see_other("/admin/users"))
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    page: Page,
    error: Option<String>,
    groups: Vec<accounts::Group>,
}

pub async fn groups(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    render(&GroupsPage {
        page: Page::new("Groups", &who),
        error: None,
        groups: accounts::groups(&state.db).await?,
    })
}

pub async fn create_group(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    match accounts::ensure_group(&state.db, form.get("name")).await {
        Ok(_) => {
            audit::record(
                &state.db,
                who.user.as_ref(),
                "group.created",
                Some(form.get("name").trim().to_string()),
                Some(who.address),
                json!({}),
            )
            .await?;
            Ok(see_other("/admin/groups"))
        }
        Err(crate::ServerError::Invalid(reason)) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &GroupsPage {
                page: Page::new("Groups", &who),
                error: Some(reason),
                groups: accounts::groups(&state.db).await?,
            },
        ),
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Page,
    limit: i64,
    entries: Vec<AuditRow>,
}

struct AuditRow {
    when: String,
    who: String,
    action: String,
    target: String,
    address: String,
    details: String,
}

pub async fn audit_log(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    let limit = 500;
    let entries = audit::recent(&state.db, None, limit)
        .await?
        .into_iter()
        .map(|e| AuditRow {
            when: date_time(e.at),
            who: e.actor_email.unwrap_or_else(|| "—".into()),
            action: e.action,
            target: e.target.unwrap_or_default(),
            address: e.address.unwrap_or_default(),
            details: e.details,
        })
        .collect();
    render(&AuditPage {
        page: Page::new("Audit log", &who),
        limit,
        entries,
    })
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    page: Page,
    officer: bool,
    rows: Vec<FleetView>,
    new_token: Option<(String, String)>,
    error: Option<String>,
    submit_url: String,
    q: String,
    attention: bool,
}

struct FleetView {
    id: i64,
    name: String,
    owner: String,
    last_check: String,
    os: String,
    posture_failing: String,
    alerts: String,
    incidents: i64,
    revoked: bool,
    class: &'static str,
}

fn fleet_view(row: crate::devices::FleetRow) -> FleetView {
    let last = row.last.as_ref();
    let worst = last.and_then(|c| c.highest_level.clone());
    FleetView {
        id: row.device.id,
        name: row.device.name,
        owner: format!("{} ({})", row.device.owner_name, row.device.owner_email),
        last_check: last
            .map(|c| {
                format!(
                    "{} ({} days ago)",
                    date(c.received_at),
                    (crate::now() - c.received_at) / 86_400
                )
            })
            .unwrap_or_else(|| "never".into()),
        os: last
            .map(|c| {
                [c.model.clone(), c.os_version.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        posture_failing: last
            .map(|c| c.posture_failing.to_string())
            .unwrap_or_default(),
        alerts: match (last, &worst) {
            (Some(c), Some(level)) => format!("{} (worst {level})", c.alerts),
            (Some(c), None) => c.alerts.to_string(),
            _ => String::new(),
        },
        incidents: row.open_incidents,
        revoked: row.device.revoked,
        class: if matches!(worst.as_deref(), Some("HIGH" | "CRITICAL")) {
            "pending"
        } else {
            ""
        },
    }
}

/// The fleet view's filters: text in the device or member, and "needs attention" (a HIGH or
/// CRITICAL alert, a setting to change, or no check for 90 days).
#[derive(Debug, Default, Deserialize)]
pub struct FleetFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    attention: Option<String>,
}

/// Days without a check after which a device needs attention.
const STALE_DAYS: i64 = 90;

impl FleetFilter {
    fn keeps(&self, row: &crate::devices::FleetRow) -> bool {
        let q = self.q.trim().to_lowercase();
        let text = format!(
            "{} {} {}",
            row.device.name, row.device.owner_name, row.device.owner_email
        )
        .to_lowercase();
        if !q.is_empty() && !text.contains(&q) {
            return false;
        }
        if self.attention.is_none() {
            return true;
        }
        match &row.last {
            None => true,
            Some(c) => {
                matches!(c.highest_level.as_deref(), Some("HIGH" | "CRITICAL"))
                    || c.posture_failing > 0
                    || crate::now() - c.received_at > STALE_DAYS * 86_400
            }
        }
    }
}

async fn fleet_rows(
    state: &AppState,
    who: &Principal,
    filter: &FleetFilter,
) -> Result<Vec<crate::devices::FleetRow>, AppError> {
    let user = who.user()?;
    let officer = user.role >= Role::Officer;
    Ok(
        crate::devices::fleet(&state.db, (!officer).then_some(user.id))
            .await?
            .into_iter()
            .filter(|row| filter.keeps(row))
            .collect(),
    )
}

async fn devices_page(
    state: &AppState,
    who: &Principal,
    new_token: Option<(String, String)>,
    error: Option<String>,
    filter: &FleetFilter,
) -> Result<Html<String>, AppError> {
    let user = who.user()?;
    let officer = user.role >= Role::Officer;
    let rows = fleet_rows(state, who, filter)
        .await?
        .into_iter()
        .map(fleet_view)
        .collect();
    render(&DevicesPage {
        page: Page::new(if officer { "Fleet" } else { "Your devices" }, who),
        officer,
        rows,
        new_token,
        error,
        submit_url: state.config.public_url.clone(),
        q: filter.q.clone(),
        attention: filter.attention.is_some(),
    })
}

pub async fn devices(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(filter): Query<FleetFilter>,
) -> Result<Html<String>, AppError> {
    devices_page(&state, &who, None, None, &filter).await
}

/// The fleet view (with its filters) as CSV, for officers.
pub async fn fleet_csv(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(filter): Query<FleetFilter>,
) -> Result<Response, AppError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
    out.write_record([
        "device",
        "member",
        "member_email",
        "last_check_utc",
        "days_since_check",
        "platform",
        "model",
        "os_version",
        "alerts",
        "worst_alert",
        "settings_to_change",
        "open_incidents",
        "token_revoked",
    ])
    .map_err(csv_error)?;
    for row in fleet_rows(&state, &who, &filter).await? {
        let last = row.last.as_ref();
        let field =
            |f: fn(&crate::devices::CheckSummary) -> String| last.map(f).unwrap_or_default();
        out.write_record([
            row.device.name.clone(),
            row.device.owner_name.clone(),
            row.device.owner_email.clone(),
            field(|c| date_time(c.received_at)),
            field(|c| ((crate::now() - c.received_at) / 86_400).to_string()),
            field(|c| c.platform.clone().unwrap_or_default()),
            field(|c| c.model.clone().unwrap_or_default()),
            field(|c| c.os_version.clone().unwrap_or_default()),
            field(|c| c.alerts.to_string()),
            field(|c| c.highest_level.clone().unwrap_or_default()),
            field(|c| c.posture_failing.to_string()),
            row.open_incidents.to_string(),
            row.device.revoked.to_string(),
        ])
        .map_err(csv_error)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"portcullis-fleet.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A member registers their own device; an officer may register one for any member by e-mail.
pub async fn register_device(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    let user = who.user()?;
    let owner = match form.get("owner").trim() {
        "" => user.clone(),
        email if user.role >= Role::Officer => match accounts::by_email(&state.db, email).await? {
            Some(owner) => owner,
            None => {
                let page = devices_page(
                    &state,
                    &who,
                    None,
                    Some(format!("There is no account {email}.")),
                    &FleetFilter::default(),
                )
                .await?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        },
        _ => return Err(AppError::Forbidden),
    };
    match crate::devices::register(&state.db, owner.id, form.get("name"), user.id).await {
        Ok((device, token)) => {
            audit::record(
                &state.db,
                Some(user),
                "device.registered",
                Some(format!("device {}", device.id)),
                Some(who.address),
                json!({ "owner": owner.email, "name": device.name }),
            )
            .await?;
            Ok(devices_page(
                &state,
                &who,
                Some((device.name, token)),
                None,
                &FleetFilter::default(),
            )
            .await?
            .into_response())
        }
        Err(crate::ServerError::Invalid(reason)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            devices_page(&state, &who, None, Some(reason), &FleetFilter::default()).await?,
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}

/// The device, if the principal may see it: its owner, or an officer. Others get NotFound.
async fn visible_device(
    state: &AppState,
    who: &Principal,
    id: &str,
) -> Result<crate::devices::Device, AppError> {
    let user = who.user()?;
    let device = crate::devices::get(&state.db, record_id(id)?)
        .await?
        .ok_or(AppError::NotFound)?;
    if device.owner_id != user.id && user.role < Role::Officer {
        return Err(AppError::NotFound);
    }
    Ok(device)
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    page: Page,
    officer: bool,
    id: i64,
    name: String,
    owner: String,
    revoked: bool,
    checked: Option<String>,
    failing: Vec<PostureView>,
    passing: usize,
    alerts: Vec<AlertView>,
    history: Vec<HistoryView>,
    incidents: Vec<(i64, String, String)>,
}

struct PostureView {
    title: String,
    severity: String,
    advice: String,
    asked_by: Vec<(i64, String)>,
}

struct AlertView {
    level: String,
    message: String,
    detail: String,
    advice: String,
}

struct HistoryView {
    received: String,
    checked: String,
    summary: String,
}

pub async fn device(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let device = visible_device(&state, &who, &id).await?;
    let officer = who.user()?.role >= Role::Officer;
    let latest = crate::devices::latest(&state.db, device.id).await?;
    let advisories_by_rule: Vec<(String, i64, String)> = advisories::all(&state.db)
        .await?
        .into_iter()
        .filter(|a| a.state == AdvisoryState::Published)
        .filter_map(|a| a.posture_rule.clone().map(|r| (r, a.id, a.title.clone())))
        .collect();
    let (failing, passing, alerts) = match &latest {
        Some(s) => {
            let failing = s
                .posture
                .iter()
                .filter(|p| p.status == portcullis_report::PostureStatus::Fail)
                .map(|p| PostureView {
                    title: p.title.clone(),
                    severity: p.severity.as_str().to_string(),
                    advice: p.advice.clone(),
                    asked_by: advisories_by_rule
                        .iter()
                        .filter(|(rule, _, _)| *rule == p.id)
                        .map(|(_, id, title)| (*id, title.clone()))
                        .collect(),
                })
                .collect();
            let passing = s
                .posture
                .iter()
                .filter(|p| p.status == portcullis_report::PostureStatus::Pass)
                .count();
            let alerts = s
                .alerts
                .iter()
                .map(|a| AlertView {
                    level: a.level.as_str().to_string(),
                    message: a.message.clone(),
                    detail: match &a.indicator {
                        Some(i) => format!(
                            "{} matched {} ({}, indicator {})",
                            a.matched_value.clone().unwrap_or_default(),
                            i.value,
                            i.collection,
                            i.stix.id
                        ),
                        None => a.source.clone().unwrap_or_default(),
                    },
                    advice: a.advice.clone(),
                })
                .collect();
            (failing, passing, alerts)
        }
        None => (Vec::new(), 0, Vec::new()),
    };
    let history = crate::devices::history(&state.db, device.id)
        .await?
        .into_iter()
        .map(|c| HistoryView {
            received: date_time(c.received_at),
            checked: c.checked_at.get(..16).unwrap_or(&c.checked_at).to_string(),
            summary: format!(
                "{} alerts{}, {} settings to change, coverage {}",
                c.alerts,
                c.highest_level
                    .map(|l| format!(" (worst {l})"))
                    .unwrap_or_default(),
                c.posture_failing,
                c.coverage
            ),
        })
        .collect();
    let incidents = if officer {
        crate::incidents::list(&state.db, Some(device.id))
            .await?
            .into_iter()
            .map(|i| (i.id, i.title, i.state.as_str().to_string()))
            .collect()
    } else {
        Vec::new()
    };
    render(&DevicePage {
        page: Page::new(&device.name, &who),
        officer,
        id: device.id,
        owner: format!("{} ({})", device.owner_name, device.owner_email),
        revoked: device.revoked,
        checked: latest
            .as_ref()
            .map(|s| s.checked_at.get(..16).unwrap_or(&s.checked_at).to_string()),
        failing,
        passing,
        alerts,
        history,
        incidents,
        name: device.name,
    })
}

pub async fn revoke_device(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let device = visible_device(&state, &who, &id).await?;
    crate::devices::revoke(&state.db, device.id).await?;
    audit::record(
        &state.db,
        who.user.as_ref(),
        "device.revoked",
        Some(format!("device {}", device.id)),
        Some(who.address),
        json!({}),
    )
    .await?;
    Ok(see_other(&format!("/devices/{}", device.id)))
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    page: Page,
    rows: Vec<crate::incidents::Incident>,
}

pub async fn incidents(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    render(&IncidentsPage {
        page: Page::new("Incidents", &who),
        rows: crate::incidents::list(&state.db, None).await?,
    })
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    page: Page,
    incident: crate::incidents::Incident,
    opened: String,
    states: Vec<&'static str>,
    events: Vec<(String, String, String, String)>,
    error: Option<String>,
}

async fn incident_page(
    state: &AppState,
    who: &Principal,
    id: i64,
    error: Option<String>,
) -> Result<IncidentPage, AppError> {
    let incident = crate::incidents::get(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let events = crate::incidents::events(&state.db, id)
        .await?
        .into_iter()
        .map(|e| {
            (
                date_time(e.at),
                e.actor_email.unwrap_or_else(|| "server".into()),
                e.kind,
                e.text,
            )
        })
        .collect();
    Ok(IncidentPage {
        page: Page::new(&format!("Incident {id}"), who),
        opened: date_time(incident.opened_at),
        incident,
        states: crate::incidents::IncidentState::ALL
            .iter()
            .map(|s| s.as_str())
            .collect(),
        events,
        error,
    })
}

pub async fn incident(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    render(&incident_page(&state, &who, record_id(&id)?, None).await?)
}

pub async fn change_incident(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let id = record_id(&id)?;
    let user = who.user()?;
    let state_field = form.get("state");
    let change = crate::incidents::Change {
        state: match state_field {
            "" => None,
            text => Some(
                crate::incidents::IncidentState::parse(text)
                    .ok_or_else(|| AppError::Unprocessable("choose a state".into()))?,
            ),
        },
        assignee: form
            .0
            .iter()
            .any(|(n, _)| n == "assignee")
            .then(|| form.get("assignee").to_string()),
        note: Some(form.get("note").to_string()),
    };
    match crate::incidents::change(&state.db, id, user, &change).await {
        Ok(incident) => {
            audit::record(
                &state.db,
                Some(user),
                "incident.changed",
                Some(format!("incident {id}")),
                Some(who.address),
                json!({ "state": incident.state, "assignee": incident.assignee_email }),
            )
            .await?;
            Ok(see_other(&format!("/incidents/{id}")))
        }
        Err(crate::ServerError::Invalid(reason)) => {
            let page = incident_page(&state, &who, id, Some(reason)).await?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other.into()),
    }
}

/// A feed as the hub page shows it.
struct FeedView {
    id: i64,
    name: String,
    kind: &'static str,
    source: String,
    indicators: i64,
    tlp: String,
    synced: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "hub.html")]
struct HubPage {
    page: Page,
    feeds: Vec<FeedView>,
    share: &'static str,
    server_url: String,
    taxii_url: String,
    error: Option<String>,
}

async fn hub_page(
    state: &AppState,
    who: &Principal,
    error: Option<String>,
) -> Result<HubPage, AppError> {
    let feeds = crate::hub::list(&state.db)
        .await?
        .into_iter()
        .map(|f| FeedView {
            id: f.id,
            kind: match f.kind {
                crate::hub::FeedKind::Upload => "Upload",
                crate::hub::FeedKind::Url => "Address",
                crate::hub::FeedKind::Taxii => "TAXII collection",
                crate::hub::FeedKind::Builtin => "Built in",
                crate::hub::FeedKind::Index => "Index of collections",
            },
            name: f.name,
            source: f.source,
            indicators: f.indicators,
            tlp: f.tlp.unwrap_or_else(|| "not marked".into()),
            synced: f.synced_at.map_or_else(|| "not yet".into(), date_time),
            next: f.next_sync_at.map_or_else(String::new, date_time),
            error: f.last_error,
        })
        .collect();
    Ok(HubPage {
        page: Page::new("Indicator hub", who),
        feeds,
        share: crate::hub::tlp_name(state.config.hub_share_up_to),
        server_url: state.config.public_url.clone(),
        taxii_url: format!("{}/taxii2/", state.config.public_url),
        error,
    })
}

pub async fn hub(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Html<String>, AppError> {
    render(&hub_page(&state, &who, None).await?)
}

pub async fn add_hub_feed(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    form: FormData,
) -> Result<Response, AppError> {
    let optional = |name: &str| Some(form.get(name).to_string()).filter(|v| !v.is_empty());
    let fields = crate::hub::FeedFields {
        name: form.get("name").to_string(),
        kind: form.get("kind").to_string(),
        format: optional("format"),
        content: optional("content"),
        url: optional("url"),
        collection: optional("collection"),
        token_env: optional("token_env"),
        raw_base: optional("raw_base"),
        interval_minutes: form.get("interval_minutes").parse().ok(),
    };
    let added = match fields.into_new_feed() {
        Ok(feed) => actions::add_feed(&state, &who, feed).await,
        Err(e) => Err(e.into()),
    };
    match added {
        Ok(_) => Ok(see_other("/hub")),
        Err(AppError::Unprocessable(reason) | AppError::Conflict(reason)) => {
            let page = hub_page(&state, &who, Some(reason)).await?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other),
    }
}

pub async fn sync_hub_feed(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    _form: FormData,
) -> Result<Response, AppError> {
    actions::sync_feed(&state, &who, record_id(&id)?).await?;
    Ok(see_other("/hub"))
}

pub async fn remove_hub_feed(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    _form: FormData,
) -> Result<Response, AppError> {
    actions::remove_feed(&state, &who, record_id(&id)?).await?;
    Ok(see_other("/hub"))
}
