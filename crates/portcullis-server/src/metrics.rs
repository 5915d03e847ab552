//! Counters for Prometheus at `/metrics` (text exposition format), kept in the process: each
//! instance reports its own, as Prometheus expects of every target.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    responses: [AtomicU64; 5],
    pub submissions_received: AtomicU64,
    pub submissions_refused: AtomicU64,
    pub incidents_opened: AtomicU64,
    pub logins_failed: AtomicU64,
}

impl Metrics {
    /// Counts a response by status class (1xx … 5xx).
    pub fn response(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The exposition text, with the gauges read from the database at scrape time.
    pub fn render(&self, gauges: &[(&str, &str, i64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP portcullis_http_responses_total Responses sent, by status class.\n");
        out.push_str("# TYPE portcullis_http_responses_total counter\n");
        for (i, counter) in self.responses.iter().enumerate() {
            out.push_str(&format!(
                "portcullis_http_responses_total{{class=\"{}xx\"}} {}\n",
                i + 1,
                counter.load(Ordering::Relaxed)
            ));
        }
        for (name, help, counter) in [
            (
                "portcullis_submissions_received_total",
                "Device checks stored.",
                &self.submissions_received,
            ),
            (
                "portcullis_submissions_refused_total",
                "Device checks refused (invalid, replayed, too large).",
                &self.submissions_refused,
            ),
            (
                "portcullis_incidents_opened_total",
                "Incidents opened by submitted checks.",
                &self.incidents_opened,
            ),
            (
                "portcullis_logins_failed_total",
                "Failed password or second-factor attempts.",
                &self.logins_failed,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        for (name, help, value) in gauges {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        out
    }
}
