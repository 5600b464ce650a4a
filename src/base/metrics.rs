//! Counters and histograms for `GET /metrics`, written in the Prometheus
//! text exposition format (version 0.0.4).
//!
//! Hand-written rather than the `prometheus` crate: four metric families
//! with fixed label sets need a few maps under a mutex and a formatter, and
//! the crate would bring its own registry, macros and dependencies for that.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Upper bounds (seconds) of the request latency buckets.
const REQUEST_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Upper bounds (seconds) of the generation duration buckets.
const GENERATION_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations at or below each bound (not cumulative; summed when written).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        if let Some(i) = bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let mut cumulative = 0;
        for (bound, n) in bounds.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Requests {
    /// (route, method, status) -> answers.
    answered: BTreeMap<(&'static str, &'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

#[derive(Default)]
struct Generations {
    /// (file type, outcome) -> generation attempts.
    ended: BTreeMap<(&'static str, &'static str), u64>,
    duration: BTreeMap<&'static str, Histogram>,
}

/// What the server counts while it runs.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<Requests>,
    generations: Mutex<Generations>,
    workers: AtomicUsize,
}

/// Keeps the worker gauge up while a worker thread lives.
pub struct WorkerAlive<'a>(&'a Metrics);

impl Drop for WorkerAlive<'_> {
    fn drop(&mut self) {
        self.0.workers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The gauges read at scrape time from the database.
pub struct QueueState {
    pub queued: i64,
    pub running: i64,
}

impl Metrics {
    /// Counts an answered request; `route` is the route's pattern, never
    /// the raw path (which would make a series per id).
    pub fn request(&self, route: &'static str, method: &'static str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.answered.entry((route, method, status)).or_default() += 1;
            r.latency
                .entry(route)
                .or_default()
                .observe(&REQUEST_BUCKETS, seconds);
        }
    }

    /// Counts a generation attempt that ended (`finished`, `retried`,
    /// `failed`, `interrupted`) after `seconds`.
    pub fn generation(&self, file_type: &'static str, outcome: &'static str, seconds: f64) {
        if let Ok(mut g) = self.generations.lock() {
            *g.ended.entry((file_type, outcome)).or_default() += 1;
            g.duration
                .entry(file_type)
                .or_default()
                .observe(&GENERATION_BUCKETS, seconds);
        }
    }

    /// Marks a worker thread alive until the guard is dropped.
    pub fn worker_alive(&self) -> WorkerAlive<'_> {
        self.workers.fetch_add(1, Ordering::Relaxed);
        WorkerAlive(self)
    }

    pub fn workers(&self) -> usize {
        self.workers.load(Ordering::Relaxed)
    }

    /// The text exposition of every metric.
    pub fn render(&self, queue: &QueueState) -> String {
        let mut out = String::new();
        if let Ok(r) = self.requests.lock() {
            out.push_str(
                "# HELP broker_lite_http_requests_total HTTP requests answered, by route, method and status.\n\
                 # TYPE broker_lite_http_requests_total counter\n",
            );
            for ((route, method, status), n) in &r.answered {
                let _ = writeln!(
                    out,
                    "broker_lite_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
            out.push_str(
                "# HELP broker_lite_http_request_duration_seconds Time to answer a request, by route.\n\
                 # TYPE broker_lite_http_request_duration_seconds histogram\n",
            );
            for (route, h) in &r.latency {
                let labels = format!("route=\"{route}\"");
                h.write(
                    &mut out,
                    "broker_lite_http_request_duration_seconds",
                    &labels,
                    &REQUEST_BUCKETS,
                );
            }
        }
        if let Ok(g) = self.generations.lock() {
            out.push_str(
                "# HELP broker_lite_generations_total Generation attempts that ended, by file type and outcome.\n\
                 # TYPE broker_lite_generations_total counter\n",
            );
            for ((file_type, outcome), n) in &g.ended {
                let _ = writeln!(
                    out,
                    "broker_lite_generations_total{{file_type=\"{file_type}\",outcome=\"{outcome}\"}} {n}"
                );
            }
            out.push_str(
                "# HELP broker_lite_generation_duration_seconds Time a generation attempt took, by file type.\n\
                 # TYPE broker_lite_generation_duration_seconds histogram\n",
            );
            for (file_type, h) in &g.duration {
                let labels = format!("file_type=\"{file_type}\"");
                h.write(
                    &mut out,
                    "broker_lite_generation_duration_seconds",
                    &labels,
                    &GENERATION_BUCKETS,
                );
            }
        }
        let _ = write!(
            out,
            "# HELP broker_lite_queue_depth Generation tasks waiting or running.\n\
             # TYPE broker_lite_queue_depth gauge\n\
             broker_lite_queue_depth{{state=\"queued\"}} {}\n\
             broker_lite_queue_depth{{state=\"running\"}} {}\n\
             # HELP broker_lite_workers Worker threads running.\n\
             # TYPE broker_lite_workers gauge\n\
             broker_lite_workers {}\n",
            queue.queued,
            queue.running,
            self.workers()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_counters_cumulative_buckets_and_gauges() {
        let m = Metrics::default();
        m.request("/v1/session/", "GET", 200, 0.0007);
        m.request("/v1/session/", "GET", 200, 0.02);
        m.request("/v1/session/", "GET", 401, 0.0001);
        m.generation("D1", "finished", 3.0);
        let _alive = m.worker_alive();
        let text = m.render(&QueueState {
            queued: 2,
            running: 1,
        });
        for line in [
            "broker_lite_http_requests_total{route=\"/v1/session/\",method=\"GET\",status=\"200\"} 2",
            "broker_lite_http_requests_total{route=\"/v1/session/\",method=\"GET\",status=\"401\"} 1",
            "broker_lite_http_request_duration_seconds_bucket{route=\"/v1/session/\",le=\"0.0005\"} 1",
            "broker_lite_http_request_duration_seconds_bucket{route=\"/v1/session/\",le=\"0.001\"} 2",
            "broker_lite_http_request_duration_seconds_bucket{route=\"/v1/session/\",le=\"+Inf\"} 3",
            "broker_lite_http_request_duration_seconds_count{route=\"/v1/session/\"} 3",
            "broker_lite_generations_total{file_type=\"D1\",outcome=\"finished\"} 1",
            "broker_lite_generation_duration_seconds_bucket{file_type=\"D1\",le=\"2.5\"} 0",
            "broker_lite_generation_duration_seconds_bucket{file_type=\"D1\",le=\"5\"} 1",
            "broker_lite_queue_depth{state=\"queued\"} 2",
            "broker_lite_workers 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        drop(_alive);
        assert_eq!(m.workers(), 0);
    }
}
