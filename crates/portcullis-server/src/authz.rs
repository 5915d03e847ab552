//! The route table: every route with the access it needs and a summary. The router is built from
//! it, the authorisation middleware reads it, the OpenAPI document lists it, and the access-matrix
//! test walks it: a route cannot exist without a rule.

use std::collections::HashMap;

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::{AppState, api, hub_api, web};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (login form, invitations, stylesheet, OpenAPI document).
    Public,
    /// A session whose password was accepted and whose authenticator code is due.
    SecondFactorDue,
    /// Setting up a second factor: required for officers and admins before anything else,
    /// open to any signed-in account.
    Enrolling,
    /// Any signed-in account (member, officer, admin).
    SignedIn,
    /// Officers and admins.
    Officer,
    /// Admins only.
    Admin,
    /// A device's upload token, and nothing else.
    Device,
    /// The organisation's indicators: an officer (session or API token) or a device's upload
    /// token (what `iocs update --server` and sensors use).
    Reader,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

impl RouteSpec {
    pub fn is_api(&self) -> bool {
        is_api_path(self.path)
    }
}

/// Paths answered for programs (JSON errors, no redirects to the login page).
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/taxii2/")
}

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    summary: &'static str,
    handler: MethodRouter<AppState>,
) -> (RouteSpec, MethodRouter<AppState>) {
    (
        RouteSpec {
            method,
            path,
            access,
            summary,
        },
        handler,
    )
}

macro_rules! routes {
    ($( $method:ident $path:literal $access:ident $summary:literal => $handler:path ),* $(,)?) => {
        vec![ $( route(
            Method::$method,
            $path,
            Access::$access,
            $summary,
            on(MethodFilter::try_from(Method::$method).expect("a routable method"), $handler),
        ) ),* ]
    };
}

/// Every route, its access rule and handler.
fn all_routes() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use Access::*;
    let _ = (
        Public,
        SecondFactorDue,
        Enrolling,
        SignedIn,
        Officer,
        Admin,
        Device,
        Reader,
    );
    routes![
        GET "/" Public "Home: the advisories page when signed in, else the login page" => web::home,
        GET "/healthz" Public "Liveness: the process answers" => web::healthz,
        GET "/readyz" Public "Readiness: the database answers with this version's schema" => web::readyz,
        GET "/metrics" Public "Prometheus metrics (to a scraper on this machine only)" => web::metrics,
        GET "/static/style.css" Public "The stylesheet" => web::stylesheet,
        GET "/login" Public "Login form" => web::login_form,
        POST "/login" Public "Check e-mail and password" => web::login,
        GET "/login/second-factor" SecondFactorDue "Authenticator code form" => web::second_factor_form,
        POST "/login/second-factor" SecondFactorDue "Check the authenticator or recovery code" => web::second_factor,
        POST "/logout" SignedIn "End the session" => web::logout,
        GET "/invite/{token}" Public "Choose a password from an invitation link" => web::invitation_form,
        POST "/invite/{token}" Public "Set the password and spend the invitation" => web::accept_invitation,
        GET "/account" SignedIn "Your account: second factor and API tokens" => web::account,
        GET "/account/second-factor" Enrolling "Set up an authenticator app" => web::enrol_form,
        POST "/account/second-factor" Enrolling "Confirm the authenticator and get recovery codes" => web::enrol,
        POST "/account/tokens" SignedIn "Create an API token" => web::create_token,
        POST "/account/tokens/{id}/revoke" SignedIn "Revoke one of your API tokens" => web::revoke_token,
        GET "/advisories" SignedIn "Advisories: yours (members) or all (officers)" => web::advisories,
        GET "/advisories/new" Officer "New advisory form" => web::new_advisory_form,
        POST "/advisories" Officer "Create an advisory (as a draft)" => web::create_advisory,
        GET "/advisories/{id}" SignedIn "Read an advisory (recorded as read for its audience)" => web::advisory,
        GET "/advisories/{id}/edit" Officer "Edit a draft" => web::edit_advisory_form,
        POST "/advisories/{id}/edit" Officer "Save a draft" => web::update_advisory,
        POST "/advisories/{id}/publish" Officer "Publish a draft to its audience" => web::publish_advisory,
        POST "/advisories/{id}/archive" Officer "Archive a published advisory" => web::archive_advisory,
        POST "/advisories/{id}/acknowledge" SignedIn "Acknowledge an advisory addressed to you" => web::acknowledge,
        GET "/advisories/{id}/status" Officer "Who has read and acknowledged" => web::advisory_status,
        POST "/advisories/{id}/remind" Officer "E-mail everyone who has not acknowledged" => web::remind,
        GET "/devices" SignedIn "Devices: yours (members) or the fleet (officers)" => web::devices,
        POST "/devices" SignedIn "Register a device and get its upload token" => web::register_device,
        GET "/fleet.csv" Officer "The fleet view as CSV (same filters)" => web::fleet_csv,
        GET "/devices/{id}" SignedIn "A device: its last check's posture and alerts, and its history" => web::device,
        POST "/devices/{id}/revoke" SignedIn "Revoke a device's upload token" => web::revoke_device,
        GET "/hub" Officer "The indicator hub: feeds, their state, and adding one" => web::hub,
        POST "/hub/feeds" Officer "Add a feed (a pasted list, an address, a TAXII collection, the built-in set)" => web::add_hub_feed,
        POST "/hub/feeds/{id}/sync" Officer "Sync a feed now" => web::sync_hub_feed,
        POST "/hub/feeds/{id}/delete" Officer "Remove a feed and what it held" => web::remove_hub_feed,
        GET "/taxii2/" Reader "TAXII 2.1 discovery" => hub_api::discovery,
        GET "/taxii2/api/" Reader "TAXII 2.1 API root" => hub_api::api_root,
        GET "/taxii2/api/collections/" Reader "TAXII 2.1 collections: the organisation's" => hub_api::collections,
        GET "/taxii2/api/collections/{id}/" Reader "TAXII 2.1 collection" => hub_api::collection_info,
        GET "/taxii2/api/collections/{id}/objects/" Reader "TAXII 2.1 objects, by date added, paged" => hub_api::objects,
        GET "/incidents" Officer "Incidents, open ones first" => web::incidents,
        GET "/incidents/{id}" Officer "An incident and its timeline" => web::incident,
        POST "/incidents/{id}" Officer "Change an incident's state or assignee, or add a note" => web::change_incident,
        GET "/admin/users" Admin "Accounts" => web::users,
        POST "/admin/users" Admin "Create an account and its invitation link" => web::create_user,
        POST "/admin/users/import" Admin "Import members from CSV" => web::import_users,
        POST "/admin/users/{id}/disable" Admin "Disable an account and end its sessions" => web::disable_user,
        POST "/admin/users/{id}/enable" Admin "Enable an account" => web::enable_user,
        POST "/admin/users/{id}/invite" Admin "A new invitation link (password reset)" => web::reinvite_user,
        POST "/admin/users/{id}/reset-second-factor" Admin "Remove an account's second factor" => web::reset_user_second_factor,
        POST "/admin/users/{id}/groups" Admin "Add an account to a group" => web::add_user_to_group,
        GET "/admin/groups" Admin "Groups" => web::groups,
        POST "/admin/groups" Admin "Create a group" => web::create_group,
        GET "/admin/audit" Admin "The audit log" => web::audit_log,
        GET "/api/openapi.json" Public "This document" => api::openapi,
        GET "/api/me" SignedIn "The account the token or session belongs to" => api::me,
        GET "/api/advisories" SignedIn "Advisories: yours (members) or all (officers)" => api::advisories,
        POST "/api/advisories" Officer "Create an advisory (as a draft)" => api::create_advisory,
        GET "/api/advisories/{id}" SignedIn "One advisory (recorded as read for its audience)" => api::advisory,
        POST "/api/advisories/{id}/publish" Officer "Publish a draft" => api::publish_advisory,
        POST "/api/advisories/{id}/archive" Officer "Archive a published advisory" => api::archive_advisory,
        POST "/api/advisories/{id}/acknowledge" SignedIn "Acknowledge an advisory addressed to you" => api::acknowledge,
        GET "/api/advisories/{id}/status" Officer "Who has read and acknowledged" => api::advisory_status,
        POST "/api/advisories/{id}/remind" Officer "E-mail everyone who has not acknowledged" => api::remind,
        POST "/api/submissions" Device "Submit a check's findings (device upload token)" => api::submit,
        GET "/api/observation-key" Device "The key a check digests what it saw with, for the re-check" => hub_api::observation_key,
        GET "/api/hub/indicators" Reader "The hub's indicators as STIX 2.1 or a network export (?format=)" => hub_api::export,
        GET "/api/hub/feeds" Officer "The hub's feeds and their state" => api::hub_feeds,
        POST "/api/hub/feeds" Officer "Add a feed" => api::add_hub_feed,
        DELETE "/api/hub/feeds/{id}" Officer "Remove a feed and what it held" => api::remove_hub_feed,
        POST "/api/hub/feeds/{id}/sync" Officer "Sync a feed now" => api::sync_hub_feed,
        GET "/api/devices" SignedIn "Devices with their last check: yours (members) or all (officers)" => api::devices,
    ]
}

/// The route table without handlers (for tests and the OpenAPI document).
pub fn route_table() -> Vec<RouteSpec> {
    all_routes().into_iter().map(|(spec, _)| spec).collect()
}

/// (method, path pattern) → access, for the middleware.
pub(crate) struct AccessTable(HashMap<(Method, &'static str), Access>);

impl AccessTable {
    pub(crate) fn from_specs(specs: &[RouteSpec]) -> AccessTable {
        AccessTable(
            specs
                .iter()
                .map(|s| ((s.method.clone(), s.path), s.access))
                .collect(),
        )
    }

    pub(crate) fn get(&self, method: &Method, path: &str) -> Option<Access> {
        // HEAD is answered by the GET handler, under the GET rule.
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.0.get(&(method.clone(), path)).copied()
    }
}

pub(crate) fn router(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for (spec, handler) in all_routes() {
        // Submissions and hub uploads are larger than any form.
        let handler = match (spec.method.clone(), spec.path) {
            (Method::POST, "/api/submissions") => handler.layer(
                axum::extract::DefaultBodyLimit::max(crate::devices::MAX_SUBMISSION_BYTES),
            ),
            (Method::POST, "/api/hub/feeds") => handler.layer(
                axum::extract::DefaultBodyLimit::max(2 * crate::hub::MAX_UPLOAD_BYTES),
            ),
            _ => handler,
        };
        router = router.route(spec.path, handler);
    }
    router
        .fallback(web::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::middleware::authorize,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::middleware::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::middleware::security_headers,
        ))
        .with_state(state)
}
