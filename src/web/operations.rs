//! What a process supervisor and a monitoring system ask of a long-running
//! service, without a login: `GET /v1/health/` and `GET /metrics`.

use crate::base::error::AppError;
use crate::base::metrics::QueueState;
use crate::state::AppState;
use rouille::{Request, Response};
use serde_json::json;

/// Queued and running generation tasks, read from the database.
fn queue_state(st: &AppState) -> anyhow::Result<QueueState> {
    let conn = st.pool.get()?;
    let (queued, running) = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM generation_tasks WHERE state = 'queued'),
                (SELECT COUNT(*) FROM generation_tasks WHERE state = 'running')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(QueueState { queued, running })
}

/// `GET /v1/health/`: 200 when the database answers and a file could be
/// stored, else 503 naming the part that cannot be used. Why it failed goes
/// to the server log, not to the answer (it may hold paths).
pub fn health(_: &Request, st: &AppState) -> Result<Response, AppError> {
    let queue = queue_state(st);
    let storage = st.storage.check_writable();
    if let Err(e) = &queue {
        log::warn!("health: the database cannot be used: {e:#}");
    }
    if let Err(e) = &storage {
        log::warn!("health: the file storage cannot be used: {e:#}");
    }
    let state = |ok: bool| if ok { "ok" } else { "unavailable" };
    let mut failing = Vec::new();
    if queue.is_err() {
        failing.push("the database cannot be read");
    }
    if storage.is_err() {
        failing.push("generated files cannot be stored");
    }
    let mut body = json!({
        "status": state(failing.is_empty()),
        "database": state(queue.is_ok()),
        "storage": state(storage.is_ok()),
        "workers": st.metrics.workers(),
        "queued": queue.as_ref().ok().map(|q| q.queued),
    });
    if failing.is_empty() {
        return Ok(Response::json(&body));
    }
    body["message"] = json!(failing.join("; "));
    Ok(Response::json(&body).with_status_code(503))
}

/// `GET /metrics`: the Prometheus text exposition.
pub fn metrics(_: &Request, st: &AppState) -> Result<Response, AppError> {
    let queue = queue_state(st).unwrap_or(QueueState {
        queued: -1,
        running: -1,
    });
    Ok(Response::from_data(
        "text/plain; version=0.0.4; charset=utf-8",
        st.metrics.render(&queue),
    ))
}
