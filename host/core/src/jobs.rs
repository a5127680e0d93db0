//! Workers: claim jobs from the database queue, run them, and record the outcome exactly once.
//!
//! Every claim holds a lease that a heartbeat renews while the job runs. Finishing writes the
//! analysis result, completes the job (only if this worker still holds its lease), refreshes the
//! folder aggregate and queues the webhooks in one transaction, so a worker killed at any point
//! leaves either nothing or everything; the reaper re-queues jobs whose lease expired. Best shots
//! are written to blob storage before that transaction and removed again if it does not commit.

use crate::analyses::{JOB_ANALYSIS, output_key};
use crate::webhooks::JOB_WEBHOOK;
use crate::{App, Infra, now_micros};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use vigil_domain::analysis::{self as rules, AnalysisType};
use vigil_domain::model::{Analysis, OutputImage, ResultMedia};
use vigil_domain::{Code, Error, Result};
use vigil_plugin_host::{AnalysisInput, CallError};
use vigil_store::jobs::{self, Job};
use vigil_store::{analyses, folders, media};

/// How the queue runs; every value is configurable.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Concurrent jobs per process (0: this process only serves the API).
    pub workers: usize,
    pub lease: Duration,
    /// Attempts of an analysis before it is FAILED.
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt, plus jitter.
    pub backoff_base: Duration,
    /// How often an idle worker looks for work queued by other processes.
    pub poll: Duration,
    pub webhook_max_attempts: u32,
    pub webhook_timeout: Duration,
    /// Deliver webhooks to loopback and private addresses (off: they are refused).
    pub webhook_allow_private: bool,
    /// Signs deliveries of companies without a secret of their own.
    pub webhook_secret: Option<String>,
    /// Analyses one company may have queued or running; more are refused (429) until some finish.
    pub company_queued: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            // Twice the cores of the reference machine: a job waits on storage and the database
            // between its CPU phases, and four overlap those waits (measured: docs/BENCHMARKS.md).
            workers: 4,
            lease: Duration::from_secs(60),
            max_attempts: 3,
            backoff_base: Duration::from_secs(2),
            poll: Duration::from_millis(500),
            webhook_max_attempts: 5,
            webhook_timeout: Duration::from_secs(10),
            webhook_allow_private: false,
            webhook_secret: None,
            company_queued: 1000,
        }
    }
}

/// Jobs by state, across every process sharing the database.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JobStats {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

/// Why an attempt did not produce a result.
enum Failure {
    /// Will fail the same way again: the analysis is FAILED at once.
    Final(Error),
    /// May pass on another attempt (storage hiccup, busy sandbox, deadline under load).
    Transient(String),
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

fn failed(kind: &str, message: impl Into<String>, code: Code) -> Failure {
    Failure::Final(Error::new(code, message).with_details(json!({ "kind": kind })))
}

/// A name for this process's workers: host, pid and a random tag.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default();
    let mut b = [0u8; 3];
    let _ = getrandom::fill(&mut b);
    format!("{}:{}:{}", if host.is_empty() { "host" } else { &host }, std::process::id(), hex::encode(b))
}

impl App {
    /// Starts the workers and the reaper of this process.
    pub fn spawn_workers(&self) -> Workers {
        let cfg = &self.cfg().jobs;
        let name = worker_name();
        let mut handles = Vec::new();
        for n in 0..cfg.workers {
            let app = self.clone();
            let owner = format!("{name}/{n}");
            handles.push(tokio::spawn(async move { app.worker_loop(owner).await }));
        }
        if cfg.workers > 0 {
            let app = self.clone();
            let owner = format!("{name}/reaper");
            handles.push(tokio::spawn(async move { app.reaper_loop(owner).await }));
        }
        Workers { name, handles }
    }

    async fn worker_loop(&self, owner: String) {
        let cfg = self.cfg().jobs.clone();
        loop {
            // Registered before looking, so an enqueue between the look and the wait still wakes us.
            let woken = self.inner.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = now_micros();
            let lease_until = now + cfg.lease.as_micros() as i64;
            // Fair between companies: see `jobs::claim`.
            match jobs::claim(&mut self.store(), &owner, now, lease_until).await {
                Ok(Some(job)) => self.run_job(&owner, job).await,
                Ok(None) => {
                    // Woken by a local enqueue, or polling for other processes' work.
                    let _ = tokio::time::timeout(cfg.poll, woken).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a job failed");
                    tokio::time::sleep(cfg.poll).await;
                }
            }
        }
    }

    async fn reaper_loop(&self, owner: String) {
        let every = (self.cfg().jobs.lease / 4).clamp(Duration::from_millis(250), Duration::from_secs(15));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.reap(&owner).await {
                tracing::warn!(error = %e.message, "job reaper failed");
            }
        }
    }

    /// Re-queues expired leases; fails the jobs that have no attempts left.
    pub async fn reap(&self, owner: &str) -> Result<usize> {
        let now = now_micros();
        let requeued = jobs::requeue_expired(&mut self.store(), now).await.infra()?;
        for j in &requeued {
            tracing::warn!(job_id = %j.job_id, kind = %j.kind, attempts = j.attempts, "lease expired; job queued again");
        }
        if !requeued.is_empty() {
            self.inner.wake.notify_waiters();
        }
        let mut n = requeued.len();
        let lease_until = now + self.cfg().jobs.lease.as_micros() as i64;
        while let Some(job) = jobs::take_exhausted(&mut self.store(), owner, now, lease_until).await.infra()? {
            let msg = format!("gave up after {} attempts whose worker stopped or stalled", job.attempts);
            tracing::error!(job_id = %job.job_id, kind = %job.kind, "{msg}");
            if job.kind == JOB_ANALYSIS {
                let e = Error::new(Code::Unknown, msg.clone()).with_details(json!({ "kind": "lease_expired" }));
                self.fail_analysis(owner, &job, &e).await?;
            } else {
                jobs::fail(&mut self.store(), &job, owner, &msg, now_micros()).await.infra()?;
            }
            n += 1;
        }
        Ok(n)
    }

    async fn run_job(&self, owner: &str, job: Job) {
        // The heartbeat keeps the lease while the job runs; it stops with the job.
        let _beat = AbortOnDrop({
            let app = self.clone();
            let (job, owner) = (job.clone(), owner.to_string());
            tokio::spawn(async move {
                let lease = app.cfg().jobs.lease;
                loop {
                    tokio::time::sleep(lease / 3).await;
                    let until = now_micros() + lease.as_micros() as i64;
                    match jobs::renew(&mut app.store(), &job, &owner, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job_id = %job.job_id, "lease lost; the result of this attempt will be dropped");
                            break;
                        }
                        Err(e) => tracing::warn!(job_id = %job.job_id, error = %e, "lease renewal failed"),
                    }
                }
            })
        });
        let outcome = match job.kind.as_str() {
            JOB_ANALYSIS => self.run_analysis_job(owner, &job).await,
            JOB_WEBHOOK => self.run_webhook_job(owner, &job).await,
            crate::restore::JOB_RESTORE => self.run_restore_job(owner, &job).await,
            other => {
                let msg = format!("unknown job kind '{other}'");
                jobs::fail(&mut self.store(), &job, owner, &msg, now_micros()).await.infra().map(|_| ())
            }
        };
        if let Err(e) = outcome {
            // Nothing was recorded: the lease runs out and the reaper queues the job again.
            tracing::error!(job_id = %job.job_id, error = %e.message, "job left to the reaper");
        }
    }

    /// Retries `job` after a backoff, or gives up on it when no attempts are left.
    pub(crate) async fn retry_or_give_up(&self, owner: &str, job: &Job, reason: &str) -> Result<bool> {
        let now = now_micros();
        if job.attempts >= job.max_attempts {
            return Ok(false);
        }
        let base = self.cfg().jobs.backoff_base.as_millis() as u64;
        let delay = rules::backoff_ms(base, job.attempts as u32, jitter());
        jobs::retry(&mut self.store(), job, owner, reason, now + delay as i64 * 1000, now).await.infra()?;
        Ok(true)
    }

    async fn run_analysis_job(&self, owner: &str, job: &Job) -> Result<()> {
        let Some(id) = job.subject_id else {
            return jobs::fail(&mut self.store(), job, owner, "analysis job without subject", now_micros())
                .await
                .infra()
                .map(|_| ());
        };
        let a = analyses::get(&mut self.store(), id).await.infra()?;
        let Some(a) = a.filter(|a| a.state == rules::PROCESSING) else {
            // Deleted, or finished by an earlier attempt whose completion raced a reaper.
            jobs::complete(&mut self.store(), job, owner, now_micros()).await.infra()?;
            return Ok(());
        };
        analyses::mark_received(&mut self.store(), id, owner, now_micros()).await.infra()?;
        match self.execute_analysis(&a).await {
            Ok(done) => self.finish_analysis(owner, job, &a, done).await,
            Err(Failure::Final(e)) => self.fail_analysis(owner, job, &e).await,
            Err(Failure::Transient(reason)) => {
                tracing::warn!(analyse_id = %id, attempt = job.attempts, %reason, "analysis attempt failed");
                if !self.retry_or_give_up(owner, job, &reason).await? {
                    let e = Error::new(Code::Unknown, format!("failed after {} attempts: {reason}", job.attempts))
                        .with_details(json!({ "kind": "attempts_exhausted" }));
                    self.fail_analysis(owner, job, &e).await?;
                }
                Ok(())
            }
        }
    }

    /// Decodes the media and runs the plugin.
    async fn execute_analysis(&self, a: &Analysis) -> std::result::Result<Done, Failure> {
        let transient = |e: Error| Failure::Transient(e.message);
        let t = AnalysisType::parse(&a.analysis_type).map_err(Failure::Final)?;
        let Some(plugin) = self.analysis_plugin(a, &t.plugin_name()).await.map_err(transient)? else {
            return Err(failed(
                "no_plugin",
                format!("no plugin serves {} analyses any more", a.analysis_type),
                Code::NotRealized,
            ));
        };
        let all = media::of_folders(&mut self.store(), &[a.folder_id]).await.infra().map_err(transient)?;
        let decoding = std::time::Instant::now();
        let mut decoded = 0;
        let mut inputs = Vec::with_capacity(a.source_ids.len());
        for id in &a.source_ids {
            let Some(m) = all.iter().find(|m| m.media_id == *id) else {
                return Err(failed(
                    "media_deleted",
                    format!("media {id} was deleted before the analysis ran"),
                    Code::NotExist,
                ));
            };
            let (frames, fresh) = self.shared_media_frames(m).await.map_err(|e| {
                Failure::Final(
                    Error::new(Code::InvalidValue, format!("media {id}: {e}"))
                        .with_details(json!({ "kind": "media_error", "media_id": id, "media_error": e.kind() })),
                )
            })?;
            decoded += usize::from(fresh);
            inputs.push(crate::plugins::media_input(m, &frames));
        }
        let decode_ms = decoding.elapsed().as_secs_f64() * 1000.0;
        let input =
            AnalysisInput { analysis_type: a.analysis_type.clone(), media: inputs, params_json: a.params.to_string() };
        let started = std::time::Instant::now();
        let out = self.inner.plugins.host.analyze(&plugin, a.company_id, input).await.map_err(|e| match e {
            CallError::Guest(g) if g.kind() != "host" => {
                failed(g.kind(), format!("{}: {}", plugin.meta.name, g.message()), Code::InvalidValue)
            }
            // A plugin that ran out of time will run out of time again: not retried, and its
            // worker is not held for another round.
            CallError::Deadline(_) => {
                failed("plugin_timeout", format!("plugin {}: {e}", plugin.meta.name), Code::Unknown)
            }
            CallError::Busy | CallError::Host(_) | CallError::Guest(_) => Failure::Transient(e.to_string()),
            CallError::Trap(_) | CallError::Limit(_) | CallError::Output(..) => {
                failed("plugin_fault", format!("plugin {}: {e}", plugin.meta.name), Code::Unknown)
            }
        })?;
        let verdict = rules::check_plugin_verdict(&out.resolution).ok_or_else(|| {
            failed(
                "plugin_fault",
                format!("plugin {} answered the verdict '{}'", plugin.meta.name, out.resolution),
                Code::Unknown,
            )
        })?;
        let parse = |s: &str, what: &str| -> std::result::Result<Value, Failure> {
            match serde_json::from_str::<Value>(s) {
                Ok(v) if v.is_object() => Ok(v),
                _ => Err(failed(
                    "plugin_fault",
                    format!("plugin {} returned {what} that is not a JSON object", plugin.meta.name),
                    Code::Unknown,
                )),
            }
        };
        let results_data = parse(&out.results_json, "results")?;
        let mut results_media = Vec::new();
        let mut images = Vec::new();
        for r in &out.media_results {
            let source = Uuid::parse_str(&r.media_id).ok().filter(|u| a.source_ids.contains(u)).ok_or_else(|| {
                failed(
                    "plugin_fault",
                    format!("plugin {} answered for media '{}' it was not given", plugin.meta.name, r.media_id),
                    Code::Unknown,
                )
            })?;
            let mut outputs = Vec::new();
            for img_id in &r.output_images {
                let Some(saved) = out.saved_images.iter().find(|s| &s.id == img_id) else { continue };
                let id = Uuid::new_v4();
                images.push((id, saved.image.clone()));
                outputs.push(OutputImage {
                    output_image_id: id,
                    label: saved.label.clone(),
                    original_url: String::new(),
                });
            }
            results_media.push(ResultMedia {
                result_media_id: Uuid::new_v4(),
                source_media_id: source,
                analyse_id: a.analyse_id,
                results_data: parse(&r.results_json, "media results")?,
                output_images: outputs,
            });
        }
        let wall = out.wall_time.as_secs_f64() * 1000.0;
        let host = out.host_time.as_secs_f64() * 1000.0;
        let technical = json!({
            "decode_ms": decode_ms,
            "elapsed_ms": started.elapsed().as_secs_f64() * 1000.0,
            "plugin_ms": wall,
            "host_services_ms": host,
            "wasm_ms": (wall - host).max(0.0),
            "media_decoded": decoded,
        });
        Ok(Done {
            verdict,
            results_data,
            results_media,
            images,
            plugin: format!("{}@{}", plugin.meta.name, plugin.meta.version),
            technical,
        })
    }

    /// Stores the best shots, then records the result in one transaction.
    async fn finish_analysis(&self, owner: &str, job: &Job, a: &Analysis, done: Done) -> Result<()> {
        let mut written = Vec::new();
        for (id, img) in &done.images {
            let key = output_key(a.company_id, a.folder_id, *id);
            let img = img.clone();
            let jpeg = tokio::task::spawn_blocking(move || vigil_media::photo::jpeg(&img))
                .await
                .map_err(Error::internal)??;
            if let Err(e) = self.blob().put(&key, jpeg).await {
                self.remove_blobs(&written).await;
                return Err(Error::internal(e));
            }
            written.push(key);
        }
        let outcome = analyses::Outcome {
            state: rules::FINISHED,
            resolution: done.verdict,
            results_data: Some(&done.results_data),
            results_media: &done.results_media,
            error: None,
            plugin: Some(&done.plugin),
            technical: &done.technical,
            attempts: job.attempts,
            score: vigil_domain::ab::main_score(Some(&done.results_data)),
        };
        let recorded = self.record_outcome(owner, job, a, &outcome).await;
        if !matches!(recorded, Ok(true)) {
            // Not recorded: nothing will ever link to these files.
            self.remove_blobs(&written).await;
        }
        recorded.map(|_| ())
    }

    async fn fail_analysis(&self, owner: &str, job: &Job, e: &Error) -> Result<()> {
        let Some(id) = job.subject_id else { return Ok(()) };
        let Some(a) = analyses::get(&mut self.store(), id).await.infra()? else {
            jobs::fail(&mut self.store(), job, owner, &e.message, now_micros()).await.infra()?;
            return Ok(());
        };
        let body = json!({ "error_code": e.code.number(), "error_message": e.message, "details": e.details });
        let outcome = analyses::Outcome {
            state: rules::FAILED,
            resolution: rules::FAILED,
            results_data: None,
            results_media: &[],
            error: Some(&body),
            plugin: None,
            technical: &json!({}),
            attempts: job.attempts,
            score: None,
        };
        self.record_outcome(owner, job, &a, &outcome).await.map(|_| ())
    }

    /// The one transaction that ends an analysis: result, job completion (only while this worker
    /// holds the lease), folder aggregate, webhooks. False when the result was not recorded (the
    /// lease was lost, or the analysis was finished or deleted meanwhile).
    async fn record_outcome(&self, owner: &str, job: &Job, a: &Analysis, o: &analyses::Outcome<'_>) -> Result<bool> {
        let now = now_micros();
        // A shadow analysis is never part of its folder: no aggregate, no webhook, no touch.
        let shadow = a.ab.as_ref().is_some_and(|ab| ab.shadow_of.is_some());
        let mut tx = self.store().begin().await.infra()?;
        if !shadow {
            folders::touch(&mut tx, a.folder_id, now).await.infra()?;
        }
        let held = if o.state == rules::FAILED && job.attempts >= job.max_attempts {
            jobs::fail(&mut tx, job, owner, o.error.map(Value::to_string).as_deref().unwrap_or(""), now)
                .await
                .infra()?
        } else {
            jobs::complete(&mut tx, job, owner, now).await.infra()?
        };
        if !held {
            tracing::warn!(analyse_id = %a.analyse_id, "lease lost before the result was recorded; dropped");
            return Ok(false);
        }
        if analyses::finish(&mut tx, a.analyse_id, o, now).await.infra()? == 0 {
            // Finished already, or deleted meanwhile: the job is done, the result has no home.
            tx.commit().await.infra()?;
            return Ok(false);
        }
        if o.state == rules::FINISHED
            && a.analysis_type == AnalysisType::Collection.as_str()
            && let Some(results) = o.results_data
        {
            self.record_collection_refs(&mut tx, a.analyse_id, a.company_id, results).await?;
        }
        if !shadow {
            self.refresh_folder_status(&mut tx, a.folder_id, now).await?;
            self.queue_webhooks(&mut tx, a, now).await?;
        }
        tx.commit().await.infra()?;
        self.inner.wake.notify_waiters();
        tracing::info!(analyse_id = %a.analyse_id, state = o.state, resolution = o.resolution, "analysis finished");
        let outcome = if o.state == rules::FAILED { "FAILED" } else { o.resolution };
        metrics::counter!("vigil_analyses_total", "type" => a.analysis_type.clone(), "outcome" => outcome.to_string())
            .increment(1);
        let latency = vigil_domain::time::micros_to_secs(now) - a.time_created;
        metrics::histogram!("vigil_analysis_seconds", "type" => a.analysis_type.clone()).record(latency.max(0.0));
        Ok(true)
    }

    async fn remove_blobs(&self, keys: &[String]) {
        for k in keys {
            if let Err(e) = self.blob().delete(k).await {
                tracing::error!(key = %k, error = %e, "output image not removed");
            }
        }
    }

    /// Sets the queue gauges (jobs by state, age of the oldest ready job) before a scrape.
    pub async fn observe_queue(&self) -> Result<()> {
        let mut store = self.store();
        let (queued, running, done, failed) = jobs::counts(&mut store).await.infra()?;
        for (state, n) in [("queued", queued), ("running", running), ("done", done), ("failed", failed)] {
            metrics::gauge!("vigil_jobs", "state" => state).set(n as f64);
        }
        let now = now_micros();
        let oldest = jobs::oldest_ready(&mut store, now).await.infra()?;
        let age = oldest.map_or(0.0, |t| (now - t).max(0) as f64 / 1e6);
        metrics::gauge!("vigil_job_oldest_ready_seconds").set(age);
        Ok(())
    }

    /// `GET /api/jobs/stats`: the queue of the whole deployment by state, for ADMIN and OPERATOR.
    pub async fn job_stats(&self, p: &vigil_domain::Principal) -> Result<JobStats> {
        if !p.role.is_global() {
            return Err(Error::forbidden());
        }
        let (queued, running, done, failed) = jobs::counts(&mut self.store()).await.infra()?;
        Ok(JobStats { queued, running, done, failed })
    }
}

/// Stops the heartbeat with the job, even when the job's task is cancelled.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// This process's workers.
pub struct Workers {
    name: String,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Stops the workers and hands their running jobs back to the queue at once, so a graceful
    /// stop does not leave them waiting for their leases to expire. (A crash leaves that to the
    /// reaper of any replica.)
    pub async fn stop(self, app: &App) {
        for h in &self.handles {
            h.abort();
        }
        for h in self.handles {
            let _ = h.await;
        }
        match jobs::release(&mut app.store(), &format!("{}/", self.name), now_micros()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "running jobs handed back to the queue"),
            Err(e) => tracing::warn!(error = %e, "running jobs not handed back; their leases will expire"),
        }
    }
}

/// A successful plugin run, before it is recorded.
struct Done {
    verdict: &'static str,
    results_data: Value,
    results_media: Vec<ResultMedia>,
    images: Vec<(Uuid, Arc<image::RgbImage>)>,
    plugin: String,
    technical: Value,
}
