//! Webhooks: when an analysis finishes, its JSON and its folder's are POSTed to the URL given with
//! the request and to the company's default URL. Deliveries are jobs of the same durable queue
//! (retries with backoff and jitter), every attempt is recorded, and each body is signed:
//!
//! `X-Vigil-Signature: sha256=<hex HMAC-SHA256 of "<X-Vigil-Timestamp>.<body>">` under the
//! company's webhook secret (or the server's `webhook_secret`). `X-Vigil-Delivery` stays the same
//! across retries so receivers can drop duplicates.

use crate::folders::Embed;
use crate::{App, Infra, now_micros};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::model::Analysis;
use vigil_domain::policy::{Principal, Role};
use vigil_domain::{Code, Error, Result};
use vigil_store::jobs::{self, Job};
use vigil_store::webhooks;
pub use vigil_store::webhooks::Delivery;
use vigil_store::{Exec, analyses, folders};

pub const JOB_WEBHOOK: &str = "webhook";
pub const EVENT_FINISHED: &str = "analysis.finished";

/// What a delivery is about, for its record.
pub(crate) struct DeliveryOf {
    pub company: Uuid,
    pub analyse_id: Option<Uuid>,
    pub folder_id: Option<Uuid>,
}

/// A company's default webhook (`/api/companies/{id}/webhook`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompanyWebhook {
    pub company_id: Uuid,
    pub url: Option<String>,
    /// Whether deliveries are signed with a secret of the company's own.
    pub has_secret: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CompanyWebhookBody {
    /// Where finished analyses of the company are POSTed; null removes it.
    pub url: Option<String>,
    /// The HMAC key for `X-Vigil-Signature` (at least 16 characters); write-only.
    #[serde(default)]
    pub secret: Option<String>,
}

fn check_url(u: &str) -> Result<()> {
    let ok = reqwest::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
    if ok { Ok(()) } else { Err(Error::value(format!("'{u}' is not an http(s) URL"))) }
}

/// Whether `ip` is in a special-purpose range of the IANA IPv4 or IPv6 registries (or is not
/// globally reachable): never a webhook receiver unless the operator allows private ones. IPv4
/// embedded in IPv6 (mapped, compatible, NAT64, 6to4, Teredo) is refused as a form, since the
/// address it reaches depends on the network.
pub(crate) fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let [a, b, c, _] = v.octets();
            a == 0                                   // "this network"
                || a == 10                           // private
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || a == 127                          // loopback
                || (a == 169 && b == 254)            // link local
                || (a == 172 && (16..32).contains(&b)) // private
                || (a == 192 && b == 0 && c == 0)    // IETF protocol assignments
                || (a == 192 && b == 0 && c == 2)    // documentation
                || (a == 192 && b == 88 && c == 99)  // 6to4 relay anycast
                || (a == 192 && b == 168)            // private
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || (a == 198 && b == 51 && c == 100) // documentation
                || (a == 203 && b == 0 && c == 113)  // documentation
                || a >= 224 // multicast, reserved (240/4) and broadcast
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            v.is_unspecified()
                || v.is_loopback()
                || s[0..6] == [0, 0, 0, 0, 0, 0]                // IPv4-compatible (deprecated)
                || s[0..6] == [0, 0, 0, 0, 0, 0xffff]           // IPv4-mapped
                || (s[0] == 0x64 && s[1] == 0xff9b)             // NAT64 (64:ff9b::/96, 64:ff9b:1::/48)
                || (s[0] == 0x100 && s[1..4] == [0, 0, 0])      // discard-only
                || (s[0] == 0x2001 && s[1] < 0x200)             // IETF protocol assignments, incl. Teredo
                || (s[0] == 0x2001 && s[1] == 0xdb8)            // documentation
                || s[0] == 0x2002                               // 6to4
                || (s[0] & 0xfe00) == 0xfc00                    // unique local
                || (s[0] & 0xffc0) == 0xfe80                    // link local
                || (s[0] & 0xffc0) == 0xfec0                    // site local (deprecated)
                || (s[0] & 0xff00) == 0xff00 // multicast
        }
    }
}

/// A receiver URL as shown back: without credentials and with query values replaced; only its
/// origin unless `full`.
fn redact_url(u: &str, full: bool) -> String {
    let Ok(mut url) = reqwest::Url::parse(u) else { return "(invalid URL)".into() };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if !full {
        return url.origin().ascii_serialization();
    }
    if url.query().is_some() {
        let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        url.query_pairs_mut().clear().extend_pairs(keys.iter().map(|k| (k.as_str(), "redacted")));
    }
    url.to_string()
}

/// What clients are told about a refused destination; the reason is logged only.
pub(crate) const NOT_ALLOWED: &str = "destination not allowed";

/// Resolves the receiver once and checks every address: the delivery then connects to the
/// address that was checked (no second resolution, so no DNS rebinding). `Ok(None)` when private
/// receivers are allowed and the client may resolve as usual.
async fn check_destination(u: &str, allow_private: bool) -> std::result::Result<Option<(String, SocketAddr)>, String> {
    if allow_private {
        return Ok(None);
    }
    let url = reqwest::Url::parse(u).map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("no host")?.trim_matches(['[', ']']).to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host.as_str(), port)).await.map_err(|e| format!("resolving {host}: {e}"))?.collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if let Some(bad) = addrs.iter().find(|a| private(a.ip())) {
        return Err(format!(
            "{host} resolves to the special-purpose address {} (webhook_allow_private is off)",
            bad.ip()
        ));
    }
    Ok(Some((host, addrs[0])))
}

/// The webhook client: never follows redirects (a receiver could otherwise point the server
/// elsewhere); with `pin`, connects to that checked address for that host only.
pub(crate) fn http_client(pin: Option<&(String, SocketAddr)>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")));
    if let Some((host, addr)) = pin {
        b = b.resolve(host, *addr);
    }
    b.build().map_err(|e| Error::internal(format!("building the webhook HTTP client: {e}")))
}

impl App {
    /// Queues one delivery per target of a finished analysis, inside the finishing transaction.
    pub(crate) async fn queue_webhooks(&self, tx: &mut impl Exec, a: &Analysis, now: i64) -> Result<()> {
        let mut targets: Vec<String> = a.webhook_url.iter().cloned().collect();
        if let Some((Some(url), _)) = webhooks::company_hook(tx, a.company_id).await.infra()?
            && !targets.contains(&url)
        {
            targets.push(url);
        }
        for url in targets {
            let payload = json!({ "url": url, "event": EVENT_FINISHED, "folder_id": a.folder_id });
            let job = jobs::NewJob {
                kind: JOB_WEBHOOK,
                company_id: Some(a.company_id),
                subject_id: Some(a.analyse_id),
                payload: &payload,
                max_attempts: i64::from(self.cfg().jobs.webhook_max_attempts),
                run_at: now,
            };
            jobs::enqueue(tx, &job, now).await.infra()?;
        }
        Ok(())
    }

    /// The callback body: the analysis and its folder (with every analysis), as the API shows them.
    async fn webhook_body(&self, event: &str, analyse_id: Uuid) -> Result<Option<serde_json::Value>> {
        let Some(a) = analyses::get(&mut self.store(), analyse_id).await.infra()? else { return Ok(None) };
        let Some(f) = folders::get(&mut self.store(), a.folder_id).await.infra()? else { return Ok(None) };
        let a = self.complete_analyses(vec![a]).await?.pop();
        let f = self.complete(vec![f], Embed { analyses: true, ..Default::default() }).await?.pop();
        Ok(Some(json!({ "event": event, "analysis": a, "folder": f })))
    }

    pub(crate) async fn run_webhook_job(&self, owner: &str, job: &Job) -> Result<()> {
        let url = job.payload["url"].as_str().unwrap_or_default().to_string();
        let event = job.payload["event"].as_str().unwrap_or(EVENT_FINISHED).to_string();
        let (Some(company), Some(analyse_id)) = (job.company_id, job.subject_id) else {
            return jobs::fail(&mut self.store(), job, owner, "webhook job without company or analysis", now_micros())
                .await
                .infra()
                .map(|_| ());
        };
        let Some(body) = self.webhook_body(&event, analyse_id).await? else {
            // The analysis or folder was deleted meanwhile: nothing left to tell.
            return jobs::complete(&mut self.store(), job, owner, now_micros()).await.infra().map(|_| ());
        };
        let folder_id = job.payload["folder_id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
        let of = DeliveryOf { company, analyse_id: Some(analyse_id), folder_id };
        self.deliver(owner, job, of, &url, &event, body.to_string()).await
    }

    /// Posts one delivery attempt, records it, and completes, retries or fails its job.
    pub(crate) async fn deliver(
        &self,
        owner: &str,
        job: &Job,
        of: DeliveryOf,
        url: &str,
        event: &str,
        body: String,
    ) -> Result<()> {
        let (status_code, error, duration_ms) = self.post_signed(url, event, body, of.company, job.job_id).await?;
        let delivery = Delivery {
            delivery_id: Uuid::new_v4(),
            job_id: job.job_id,
            company_id: of.company,
            analyse_id: of.analyse_id,
            folder_id: of.folder_id,
            event: event.to_string(),
            url: url.to_string(),
            attempt: job.attempts,
            status_code,
            error,
            duration_ms,
            time_created: 0.0,
        };
        self.settle_delivery(owner, job, &delivery).await
    }

    /// Records one delivery attempt and completes its job, or schedules a retry, or gives up.
    pub(crate) async fn settle_delivery(&self, owner: &str, job: &Job, delivery: &Delivery) -> Result<()> {
        webhooks::record(&mut self.store(), delivery, now_micros()).await.infra()?;
        match &delivery.error {
            None => {
                jobs::complete(&mut self.store(), job, owner, now_micros()).await.infra()?;
            }
            Some(reason) => {
                tracing::warn!(url = %delivery.url, attempt = job.attempts, %reason, "webhook delivery failed");
                // A refused destination stays refused: no retry.
                if reason == NOT_ALLOWED || !self.retry_or_give_up(owner, job, reason).await? {
                    jobs::fail(&mut self.store(), job, owner, reason, now_micros()).await.infra()?;
                }
            }
        }
        Ok(())
    }

    /// POSTs `body` to `url` once, signed with the company's secret (or the server's), after the
    /// destination check; returns the HTTP status, the failure if any, and the duration in ms.
    pub(crate) async fn post_signed(
        &self,
        url: &str,
        event: &str,
        body: String,
        company: Uuid,
        delivery: Uuid,
    ) -> Result<(Option<i64>, Option<String>, i64)> {
        let secret = match webhooks::company_hook(&mut self.store(), company).await.infra()? {
            Some((_, Some(s))) => Some(s),
            _ => self.cfg().jobs.webhook_secret.clone(),
        };
        let started = std::time::Instant::now();
        let result = match check_destination(url, self.cfg().jobs.webhook_allow_private).await {
            Err(e) => {
                tracing::warn!(%url, reason = %e, "webhook destination refused");
                Err(NOT_ALLOWED.to_string())
            }
            Ok(pin) => {
                let pinned;
                let client = match &pin {
                    Some(p) => {
                        pinned = http_client(Some(p))?;
                        &pinned
                    }
                    None => &self.inner.http,
                };
                let ts = (now_micros() / 1_000_000).to_string();
                let mut req = client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header("X-Vigil-Event", event)
                    .header("X-Vigil-Delivery", delivery.to_string())
                    .header("X-Vigil-Timestamp", &ts);
                if let Some(s) = &secret {
                    let sig = crate::crypto::hmac_sha256_hex(s.as_bytes(), format!("{ts}.{body}").as_bytes());
                    req = req.header("X-Vigil-Signature", format!("sha256={sig}"));
                }
                match req.body(body).timeout(self.cfg().jobs.webhook_timeout).send().await {
                    Ok(r) => Ok(r.status().as_u16()),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        let ms = started.elapsed().as_millis() as i64;
        Ok(match result {
            Ok(s) => (Some(i64::from(s)), (!(200..300).contains(&s)).then(|| format!("HTTP {s}")), ms),
            Err(e) => (None, Some(e), ms),
        })
    }

    fn can_manage_webhook(p: &Principal, company: Uuid) -> bool {
        match p.role {
            Role::Admin => true,
            Role::ClientAdmin => p.company_id == company,
            _ => false,
        }
    }

    /// The company's webhook `(url, secret)` after checking the caller may manage it.
    async fn managed_hook(&self, p: &Principal, company: Uuid) -> Result<(Option<String>, Option<String>)> {
        if !p.can_read_company(company) {
            return Err(Error::not_found("company"));
        }
        if !Self::can_manage_webhook(p, company) {
            return Err(Error::forbidden());
        }
        webhooks::company_hook(&mut self.store(), company).await.infra()?.ok_or_else(|| Error::not_found("company"))
    }

    pub async fn get_company_webhook(&self, p: &Principal, company: Uuid) -> Result<CompanyWebhook> {
        let (url, secret) = self.managed_hook(p, company).await?;
        Ok(CompanyWebhook { company_id: company, url, has_secret: secret.is_some() })
    }

    pub async fn set_company_webhook(
        &self,
        p: &Principal,
        company: Uuid,
        b: CompanyWebhookBody,
    ) -> Result<CompanyWebhook> {
        let (old_url, old_secret) = self.managed_hook(p, company).await?;
        if let Some(u) = &b.url {
            check_url(u)?;
        }
        if let Some(s) = &b.secret
            && !(16..=256).contains(&s.len())
        {
            return Err(Error::value("secret must be 16 to 256 characters"));
        }
        // Keep the old secret unless a new one is given; removing the URL removes both.
        let secret = if b.url.is_none() { None } else { b.secret.or(old_secret.clone()) };
        let mut tx = self.store().begin().await.infra()?;
        webhooks::set_company_hook(&mut tx, company, b.url.as_deref(), secret.as_deref(), now_micros())
            .await
            .infra()?;
        let mut change = vigil_domain::audit::Change::new("set_webhook", "company", company, Some(company)).field(
            "webhook_url",
            serde_json::json!(old_url),
            serde_json::json!(b.url),
        );
        if secret != old_secret {
            change = change.field("webhook_secret", serde_json::Value::Null, serde_json::Value::Null);
        }
        crate::audit::record(&mut tx, vigil_domain::policy::Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        Ok(CompanyWebhook { company_id: company, url: b.url, has_secret: secret.is_some() })
    }

    /// Delivery attempts: of one analysis the caller can read, or of a company for its admins.
    /// Delivery records. Any reader of an analysis sees its deliveries, but the receiver's URL in
    /// full only if the caller may manage the company's webhook (others see its origin); query
    /// values and credentials in URLs are never shown.
    pub async fn list_webhook_deliveries(&self, p: &Principal, analyse_id: Option<Uuid>) -> Result<Vec<Delivery>> {
        let mut list = self.deliveries(p, analyse_id).await?;
        for d in &mut list {
            d.url = redact_url(&d.url, Self::can_manage_webhook(p, d.company_id));
        }
        Ok(list)
    }

    async fn deliveries(&self, p: &Principal, analyse_id: Option<Uuid>) -> Result<Vec<Delivery>> {
        match analyse_id {
            Some(id) => {
                self.get_analysis(p, id).await?;
                webhooks::list(&mut self.store(), None, Some(id), 500).await.infra()
            }
            None => {
                let company = match p.role {
                    Role::Admin => None,
                    Role::ClientAdmin => Some(p.company_id),
                    _ => return Err(Error::new(Code::AuthForbidden, "give analyse_id, or ask as a company admin")),
                };
                webhooks::list(&mut self.store(), company, None, 500).await.infra()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{private, redact_url};

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("https://u:p@hooks.example/x?token=s3cret&a=1", true),
            "https://hooks.example/x?token=redacted&a=redacted"
        );
        assert_eq!(redact_url("https://hooks.example:8443/x?token=s3cret", false), "https://hooks.example:8443");
        assert_eq!(redact_url("http://h.example/plain", true), "http://h.example/plain");
    }

    #[test]
    fn private_addresses_are_recognised() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.1",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "ff02::1",
            "fec0::1",
        ] {
            assert!(private(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "1.1.1.1", "100.128.0.1", "198.20.0.1", "2001:4860:4860::8888", "2606:4700::1111"] {
            assert!(!private(a.parse().unwrap()), "{a}");
        }
    }
}
