//! SDK telemetry ("event sessions"): ingestion, idempotent per session id, and the 5.2 list.

use crate::{App, Infra, now_micros};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::events::{EventSession, EventSessionFilter, check_session_id, merge_events};
use vigil_domain::model::Page;
use vigil_domain::policy::Principal;
use vigil_domain::time::micros_to_secs;
use vigil_domain::{Error, Result};
use vigil_store::events;

/// Body of `POST /api/event_sessions/`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EventBatch {
    /// The SDK's `event_session_id` (also accepted under that name).
    #[serde(alias = "event_session_id")]
    pub session_id: String,
    /// Links the session to a folder the caller can read.
    pub folder_id: Option<Uuid>,
    /// Events as the SDK sends them; ones the session already holds are ignored.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
}

impl App {
    /// Creates the session or adds the batch's new events to it; sending the same batch again
    /// changes nothing. Returns the session and whether it was created.
    pub async fn ingest_events(&self, p: &Principal, b: EventBatch) -> Result<(EventSession, bool)> {
        check_session_id(&b.session_id)?;
        let company = match b.folder_id {
            Some(f) => self.folder_for_read(p, f).await?.company_id,
            None => p.company_id,
        };
        // A concurrent first batch of the same session may win the insert: then merge into it.
        for _ in 0..2 {
            let mut tx = self.store().begin_write().await.infra()?;
            let now = now_micros();
            match events::get(&mut tx, company, &b.session_id).await.infra()? {
                Some(mut s) => {
                    let linked = b.folder_id.is_some() && s.folder_id != b.folder_id;
                    match merge_events(&s.events, b.events.clone())? {
                        Some(all) => s.events = all,
                        None if !linked => return Ok((s, false)),
                        None => {}
                    }
                    s.folder_id = b.folder_id.or(s.folder_id);
                    events::update(&mut tx, &s, now).await.infra()?;
                    tx.commit().await.infra()?;
                    s.time_updated = micros_to_secs(now);
                    return Ok((s, false));
                }
                None => {
                    let s = EventSession {
                        session_id: b.session_id.clone(),
                        company_id: company,
                        user_id: Some(p.user_id),
                        folder_id: b.folder_id,
                        events: merge_events(&[], b.events.clone())?.unwrap_or_default(),
                        time_created: micros_to_secs(now),
                        time_updated: micros_to_secs(now),
                    };
                    match events::insert(&mut tx, &s, now).await {
                        Ok(()) => {
                            tx.commit().await.infra()?;
                            return Ok((s, true));
                        }
                        Err(vigil_store::StoreError::Conflict(_)) => continue,
                        Err(e) => return Err(Error::internal(e)),
                    }
                }
            }
        }
        Err(Error::internal("event session insert kept conflicting"))
    }

    /// `GET /api/event_sessions/`: the caller's company's sessions (ADMIN and OPERATOR: all).
    pub async fn list_event_sessions(&self, p: &Principal, f: &EventSessionFilter) -> Result<Page<EventSession>> {
        let (items, total) = events::list(&mut self.store(), p.event_session_scope(), f).await.infra()?;
        Ok(Page { total, items })
    }
}
