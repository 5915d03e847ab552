use thiserror::Error;

/// What can go wrong in the server library. The messages are for the operator's terminal and log;
/// HTTP responses never carry them (see `web::AppError`).
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(String),
    #[error("{0}")]
    Invalid(String),
    /// The record's state does not allow this (publishing an archived advisory).
    #[error("{0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for ServerError {
    fn from(e: sqlx::Error) -> ServerError {
        ServerError::Database(e.to_string())
    }
}

/// What a request handler can answer besides success. Each maps to one status code and a short
/// message; internal details go to the log with a reference, never into the response.
#[derive(Debug)]
pub enum AppError {
    BadRequest(String),
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict(String),
    Unprocessable(String),
    PayloadTooLarge,
    UnsupportedMediaType,
    CsrfRejected,
    TooManyRequests,
    /// Not ready to serve (the database does not answer): a load balancer tries another.
    Unavailable,
    Redirect(String),
    Internal(String),
    /// The same error, answered as JSON (API routes).
    Api(Box<AppError>),
}

impl AppError {
    pub fn for_api(self) -> AppError {
        match self {
            AppError::Api(_) => self,
            other => AppError::Api(Box::new(other)),
        }
    }

    fn status_and_message(&self) -> (axum::http::StatusCode, String) {
        use axum::http::StatusCode as S;
        match self {
            AppError::BadRequest(m) => (S::BAD_REQUEST, m.clone()),
            AppError::Unauthorized => (S::UNAUTHORIZED, "Please sign in.".into()),
            AppError::Forbidden => (S::FORBIDDEN, "Your account may not do this.".into()),
            AppError::NotFound => (S::NOT_FOUND, "There is nothing here.".into()),
            AppError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "That method is not allowed here.".into()),
            AppError::Conflict(m) => (S::CONFLICT, m.clone()),
            AppError::Unprocessable(m) => (S::UNPROCESSABLE_ENTITY, m.clone()),
            AppError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "The request is too large.".into()),
            AppError::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, "The request's content type is not accepted here.".into()),
            AppError::CsrfRejected => (
                S::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and try again.".into(),
            ),
            AppError::TooManyRequests => (
                S::TOO_MANY_REQUESTS,
                "Too many failed attempts from your address. Wait 15 minutes and try again.".into(),
            ),
            AppError::Unavailable => (S::SERVICE_UNAVAILABLE, "Not ready.".into()),
            AppError::Redirect(_) => (S::SEE_OTHER, String::new()),
            AppError::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "Something went wrong on the server. The security office can find the details in its log.".into(),
            ),
            AppError::Api(inner) => inner.status_and_message(),
        }
    }
}

impl From<ServerError> for AppError {
    fn from(e: ServerError) -> AppError {
        match e {
            ServerError::Invalid(m) => AppError::Unprocessable(m),
            ServerError::NotFound(_) => AppError::NotFound,
            ServerError::Conflict(m) => AppError::Conflict(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> AppError {
        AppError::Internal(format!("database: {e}"))
    }
}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::header;
        if let AppError::Internal(detail) = &self {
            tracing::error!("request failed: {detail}");
        }
        if let AppError::Api(inner) = &self {
            if let AppError::Internal(detail) = inner.as_ref() {
                tracing::error!("API request failed: {detail}");
            }
            let (status, message) = self.status_and_message();
            return (
                status,
                axum::Json(serde_json::json!({ "error": message, "status": status.as_u16() })),
            )
                .into_response();
        }
        if let AppError::Redirect(to) = &self {
            return (
                axum::http::StatusCode::SEE_OTHER,
                [(header::LOCATION, to.clone())],
            )
                .into_response();
        }
        let (status, message) = self.status_and_message();
        let page = crate::web::error_page(status, &message);
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response()
    }
}
