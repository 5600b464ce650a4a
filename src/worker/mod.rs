//! Tier 3: the embedded worker. It claims queued generation tasks from
//! SQLite, runs them outside any transaction, and records the result.
//! Transient failures are retried a bounded number of times; every task ends
//! done or failed.

mod csvscan;
mod gtas;
mod pgcsv;
mod tasks;
pub mod validate;
pub mod write;

use crate::base::domain::TaskState;
use crate::base::ids::TaskId;
use crate::base::timefmt::now_timestamp;
use crate::base::util::unix_now;
use crate::db::tasks::{self as queue, Task};
use crate::state::AppState;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Attempts a task gets before it fails for good.
pub const MAX_ATTEMPTS: i64 = 3;

/// Why a task failed, as far as a user can act on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    #[error("storage failure")]
    Storage,
    #[error("disk failure")]
    Disk,
    /// A problem with the data; the message is for the user.
    #[error("{0}")]
    Data(String),
    /// The server is shutting down; the task is queued again.
    #[error("interrupted by shutdown")]
    Interrupted,
}

impl Failure {
    fn of(err: &anyhow::Error) -> Option<&Failure> {
        err.downcast_ref::<Failure>()
            .or_else(|| err.chain().find_map(|e| e.downcast_ref::<Failure>()))
    }

    /// The message saved on the job.
    pub fn user_message(err: &anyhow::Error) -> String {
        match Failure::of(err) {
            Some(Failure::Storage) => "The generated file could not be stored: the file storage is \
                unreachable or refused it. Check the storage settings, then generate the file again."
                .into(),
            Some(Failure::Disk) => "The file could not be written in the data directory (is the disk \
                full or read-only?). Free space or fix permissions, then generate the file again."
                .into(),
            Some(Failure::Data(message)) => message.clone(),
            Some(Failure::Interrupted) | None => "File generation failed because of an internal error. Generate the file again; \
                if it keeps failing, check the server log."
                .into(),
        }
    }

    fn is_transient(err: &anyhow::Error) -> bool {
        !matches!(Failure::of(err), Some(Failure::Data(_)))
    }
}

/// Runs queued tasks for one application.
pub struct Worker {
    st: Arc<AppState>,
}

impl Worker {
    pub fn new(st: Arc<AppState>) -> Worker {
        Worker { st }
    }

    /// Runs the next due task, if any; `Ok(None)` when there is none.
    pub fn run_next_job(&self) -> anyhow::Result<Option<TaskId>> {
        match self.claim()? {
            Some(task) => self.run_claimed(task).map(Some),
            None => Ok(None),
        }
    }

    /// Claims the next due task (marks it running) without running it.
    pub fn claim(&self) -> anyhow::Result<Option<Task>> {
        Ok(queue::claim_next(&*self.st.pool.get()?, unix_now() as i64)?)
    }

    /// Runs a claimed task to its end (done, retried later, or failed).
    pub fn run_claimed(&self, task: Task) -> anyhow::Result<TaskId> {
        let generated = tasks::generated_file_type(&self.st, &task);
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| tasks::execute(&self.st, &task)));
        let now = now_timestamp();
        let ended = match outcome {
            Ok(Ok(())) => {
                queue::end_task(
                    &*self.st.pool.get()?,
                    task.task_id,
                    TaskState::Done,
                    None,
                    &now,
                )?;
                "finished"
            }
            Ok(Err(err)) => self.on_error(&task, &err)?,
            Err(_) => {
                log::error!("task {} ({:?}) panicked", task.task_id, task.kind);
                let err = anyhow::anyhow!("the task panicked");
                self.give_up(&task, &Failure::user_message(&err), &err)?;
                "failed"
            }
        };
        if let Some(file_type) = generated {
            let seconds = started.elapsed().as_secs_f64();
            self.st
                .metrics
                .generation(file_type.as_str(), ended, seconds);
        }
        self.st.wake.notify();
        Ok(task.task_id)
    }

    /// Retries, re-queues or fails a task whose attempt went wrong; returns
    /// how the attempt ended.
    fn on_error(&self, task: &Task, err: &anyhow::Error) -> anyhow::Result<&'static str> {
        if matches!(Failure::of(err), Some(Failure::Interrupted)) {
            log::info!(
                "task {} ({:?}) interrupted by shutdown; queued again",
                task.task_id,
                task.kind
            );
            queue::requeue_interrupted(&*self.st.pool.get()?, task.task_id)?;
            return Ok("interrupted");
        }
        log::warn!(
            "task {} ({:?}) attempt {} of {MAX_ATTEMPTS} failed: {err:#}",
            task.task_id,
            task.kind,
            task.attempts
        );
        if task.attempts < MAX_ATTEMPTS && Failure::is_transient(err) {
            let delay = self.st.config.retry_backoff_secs * 3u64.pow(task.attempts as u32 - 1);
            let conn = self.st.pool.get()?;
            queue::retry_later(
                &conn,
                task.task_id,
                (unix_now() + delay) as i64,
                &format!("{err:#}"),
            )?;
            return Ok("retried");
        }
        self.give_up(task, &Failure::user_message(err), err)?;
        Ok("failed")
    }

    fn give_up(&self, task: &Task, message: &str, err: &anyhow::Error) -> anyhow::Result<()> {
        tasks::fail(&self.st, task, message)?;
        let conn = self.st.pool.get()?;
        queue::end_task(
            &conn,
            task.task_id,
            TaskState::Failed,
            Some(&format!("{err:#}")),
            &now_timestamp(),
        )?;
        Ok(())
    }

    /// Runs tasks until `stop` is set; a task in progress is finished first.
    pub fn run(&self, stop: &AtomicBool) {
        let mut seen = 0;
        while !stop.load(Ordering::SeqCst) {
            match self.run_next_job() {
                Ok(Some(_)) => continue,
                Ok(None) => self.st.wake.wait(&mut seen, Duration::from_millis(500)),
                Err(err) => {
                    log::error!("worker: {err:#}");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }
}

/// Starts `n` named worker threads.
pub fn spawn_workers(
    st: &Arc<AppState>,
    n: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let (worker, stop) = (Worker::new(Arc::clone(st)), Arc::clone(stop));
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let _alive = worker.st.metrics.worker_alive();
                    worker.run(&stop)
                })
                .expect("cannot start a worker thread")
        })
        .collect()
}
