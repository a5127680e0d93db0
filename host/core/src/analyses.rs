//! Analyses as a use-case: request (rows and jobs in one transaction), read, list, delete, the
//! operator's decision, and the folder aggregate they drive.
//!
//! The host never decides a verdict: the analysis's plugin does, in a worker ([`crate::jobs`]).

use crate::{App, Infra, now_micros};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_domain::analysis::{self as rules, AnalysisFilter, AnalysisType, MediaRef, StatusRow};
use vigil_domain::audit::Change;
use vigil_domain::model::{Analysis, Media, Page};
use vigil_domain::policy::{Caller, Principal, Role};
use vigil_domain::{Code, Error, Result};
use vigil_store::{Exec, analyses, folders, jobs, media};

/// Largest `params` object accepted, serialised.
const MAX_PARAMS_BYTES: usize = 16 * 1024;

/// Body of `POST /api/folders/{id}/analyses/`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AnalysesRequest {
    pub analyses: Vec<AnalysisSpec>,
    /// A URL that receives the analysis and folder JSON when each analysis finishes (the
    /// company's default webhook is used as well).
    #[serde(default)]
    pub resolution_endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AnalysisSpec {
    /// quality, biometry, collection, documents (any case) or a custom type.
    #[serde(rename = "type")]
    pub analysis_type: String,
    /// The media to analyse; by default the type's rule picks them by tag and type.
    #[serde(default)]
    pub source_media: Option<Vec<Uuid>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
}

/// Body of the operator's decision (`PATCH /api/analyses/{id}/`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Decision {
    /// SUCCESS or DECLINED.
    #[serde(alias = "resolution_status")]
    pub resolution: String,
    #[serde(default, alias = "operator_comment")]
    pub comment: Option<String>,
}

pub const JOB_ANALYSIS: &str = "analysis";

/// Where a best shot is stored: next to the folder's media, so the folder's removal takes it.
pub(crate) fn output_key(company: Uuid, folder: Uuid, image: Uuid) -> String {
    format!("{company}/{folder}/{image}_output.jpg")
}

/// The collection a COLLECTION analysis shows: the best match's, else the first searched or named.
fn shown_collection(a: &Analysis) -> Option<Uuid> {
    let id = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| Uuid::parse_str(s.trim()).ok());
    let r = a.results_data.as_ref();
    r.and_then(|r| r.get("matches"))
        .and_then(Value::as_array)
        .and_then(|m| id(m.first()?.get("collection_id")))
        .or_else(|| {
            r.and_then(|r| r.get("collections"))
                .and_then(Value::as_array)
                .and_then(|c| id(c.first()?.get("collection_id")))
        })
        .or_else(|| id(a.params.get("collection_id")))
        .or_else(|| a.params.get("collection_ids").and_then(Value::as_array).and_then(|l| id(l.first())))
}

/// A per-request webhook must parse as an absolute http(s) URL with a host and no credentials;
/// where it may point is checked when it is delivered to.
fn check_webhook_url(u: &str) -> Result<String> {
    let u = u.trim();
    let ok = u.len() <= 2048
        && reqwest::Url::parse(u).is_ok_and(|p| {
            matches!(p.scheme(), "http" | "https")
                && p.host_str().is_some_and(|h| !h.is_empty())
                && p.username().is_empty()
                && p.password().is_none()
        });
    if ok {
        Ok(u.to_string())
    } else {
        Err(Error::value(format!("resolution_endpoint must be an http(s) URL, got '{u}'")))
    }
}

impl App {
    fn may_start(p: &Principal, t: &AnalysisType) -> Result<()> {
        if matches!(p.role, Role::Operator | Role::ClientOperator) {
            return Err(Error::new(Code::AuthForbidden, "operators cannot start analyses"));
        }
        let (allowed, flag) = match t {
            AnalysisType::Quality => (p.can_start_analyse_quality, "can_start_analyse_quality"),
            AnalysisType::Biometry => (p.can_start_analyse_biometry, "can_start_analyse_biometry"),
            AnalysisType::Collection => (p.can_start_analyse_collection, "can_start_analyse_collection"),
            _ => (true, ""),
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::new(
                Code::AuthForbidden,
                format!("this user may not start {} analyses ({flag} is off)", t.as_str()),
            ))
        }
    }

    /// `POST /api/folders/{id}/analyses/`: validates every requested analysis, then writes the
    /// rows and their jobs in one transaction and answers at once with them in PROCESSING.
    pub async fn request_analyses(
        &self,
        p: &Principal,
        folder_id: Uuid,
        req: AnalysesRequest,
    ) -> Result<Vec<Analysis>> {
        let folder = self.folder_for_write(p, folder_id).await?;
        if folder.pi_deleted {
            return Err(crate::folders::pi_deleted_error());
        }
        if req.analyses.is_empty() {
            return Err(Error::structure("'analyses' must list at least one analysis"));
        }
        if req.analyses.len() > 16 {
            return Err(Error::value("at most 16 analyses per request"));
        }
        let webhook = req.resolution_endpoint.as_deref().map(check_webhook_url).transpose()?;
        // One company's backlog is bounded: beyond it, analyses wait for some to finish.
        let cap = self.cfg().jobs.company_queued as i64;
        let pending = vigil_store::jobs::pending_for_company(&mut self.store(), folder.company_id).await.infra()?;
        if pending + req.analyses.len() as i64 > cap {
            return Err(Error::new(
                Code::TooMany,
                format!("the company has {pending} analyses queued or running; at most {cap}: retry when some finish"),
            ));
        }
        let folder_media = media::of_folders(&mut self.store(), &[folder_id]).await.infra()?;
        let refs: Vec<MediaRef> = folder_media
            .iter()
            .map(|m| MediaRef { id: m.media_id, media_type: &m.media_type, tags: &m.tags })
            .collect();
        let group_id = Uuid::new_v4();
        let mut planned = Vec::new();
        let mut named_collections = Vec::new();
        for spec in &req.analyses {
            let t = AnalysisType::parse(&spec.analysis_type)?;
            Self::may_start(p, &t)?;
            let params = spec.params.clone().unwrap_or_else(|| json!({}));
            if !params.is_object() {
                return Err(Error::new(Code::InvalidType, "'params' must be a JSON object"));
            }
            if params.to_string().len() > MAX_PARAMS_BYTES {
                return Err(Error::value(format!("'params' is larger than {MAX_PARAMS_BYTES} bytes")));
            }
            // The SDK's COLLECTION form nests source_media inside params.
            let nested: Option<Vec<Uuid>> =
                params.get("source_media").and_then(|v| serde_json::from_value(v.clone()).ok());
            let source = spec.source_media.clone().or(nested);
            if self.inner.plugins.registry.resolve(folder.company_id, &t.plugin_name()).is_none() {
                return Err(Error::new(
                    Code::NotRealized,
                    format!(
                        "no plugin serves {} analyses on this server (install an analysis plugin named '{}')",
                        t.as_str(),
                        t.plugin_name()
                    ),
                ));
            }
            let ids = rules::select_media(&t, &refs, source.as_deref())?;
            if t == AnalysisType::Collection {
                named_collections.push(self.named_collections(folder.company_id, &params).await?);
            } else {
                named_collections.push(Vec::new());
            }
            planned.push(Analysis {
                analyse_id: Uuid::new_v4(),
                folder_id,
                company_id: folder.company_id,
                user_id: Some(p.user_id),
                group_id,
                analysis_type: t.as_str().to_string(),
                state: rules::PROCESSING.into(),
                resolution_status: rules::PROCESSING.into(),
                resolution: rules::PROCESSING.into(),
                system_resolution: rules::PROCESSING.into(),
                params,
                source_media: Vec::new(),
                results_data: None,
                results_media: Vec::new(),
                collection: None,
                error: None,
                operator_id: None,
                operator_comment: None,
                time_decided: None,
                meta_data: json!({}),
                technical_meta_data: json!({}),
                time_task_send_to_broker: None,
                time_task_received: None,
                time_task_finished: None,
                time_created: 0.0,
                time_updated: 0.0,
                source_ids: ids,
                webhook_url: webhook.clone(),
                ab: None,
            });
            // A running experiment decides which variant runs it, and whether a shadow runs beside.
            if let Some(routed) = self.route(folder.company_id, t.as_str(), folder_id, &folder.meta_data).await? {
                let (assignment, shadow) = routed.plan();
                let Some(primary) = planned.last_mut() else { continue };
                primary.ab = Some(assignment.clone());
                if let Some(variant) = shadow {
                    let mut s = primary.clone();
                    s.analyse_id = Uuid::new_v4();
                    s.webhook_url = None;
                    s.ab = Some(vigil_domain::ab::Assignment {
                        variant,
                        shadow_of: Some(primary.analyse_id),
                        ..assignment
                    });
                    planned.push(s);
                    named_collections.push(named_collections.last().cloned().unwrap_or_default());
                }
            }
        }
        let now = now_micros();
        let mut tx = self.store().begin().await.infra()?;
        // The folder row first: it serialises every writer of this folder's aggregate.
        folders::touch(&mut tx, folder_id, now).await.infra()?;
        for (a, named) in planned.iter().zip(&named_collections) {
            analyses::insert(&mut tx, a, Some(p.user_id), now).await.infra()?;
            for c in named {
                vigil_store::collections::add_ref(&mut tx, a.analyse_id, a.company_id, *c, None).await.infra()?;
            }
            let job = jobs::NewJob {
                kind: JOB_ANALYSIS,
                company_id: Some(a.company_id),
                subject_id: Some(a.analyse_id),
                payload: &json!({}),
                max_attempts: i64::from(self.cfg().jobs.max_attempts),
                run_at: now,
            };
            jobs::enqueue(&mut tx, &job, now).await.infra()?;
        }
        self.refresh_folder_status(&mut tx, folder_id, now).await?;
        let requested: Vec<Value> =
            planned.iter().map(|a| json!({"analyse_id": a.analyse_id, "type": a.analysis_type})).collect();
        let change = Change::new("request_analyses", "folder", folder_id, Some(folder.company_id))
            .in_folder(folder_id)
            .field("analyses", Value::Null, Value::Array(requested));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.inner.wake.notify_waiters();
        let group = AnalysisFilter { group_ids: vec![group_id], ..Default::default() };
        let (mut out, _) = analyses::list(&mut self.store(), vigil_domain::policy::Scope::All, &group).await.infra()?;
        // In the order they were requested.
        out.sort_by_key(|a| planned.iter().position(|p| p.analyse_id == a.analyse_id));
        self.complete_analyses(out).await
    }

    /// The collections a COLLECTION request names (`collection_id`, or a `collection_ids`
    /// list), each checked to be one of the company's: a typo is an error now, not a failed
    /// analysis later.
    async fn named_collections(&self, company: Uuid, params: &Value) -> Result<Vec<Uuid>> {
        let mut named: Vec<&Value> = params.get("collection_id").filter(|v| !v.is_null()).into_iter().collect();
        match params.get("collection_ids") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => named.extend(list),
            Some(_) => return Err(Error::value("params.collection_ids must be a list of collection ids")),
        }
        if named.len() > 64 {
            return Err(Error::value("at most 64 collections per COLLECTION analysis"));
        }
        let mut ids = Vec::new();
        for v in named {
            let id = v
                .as_str()
                .and_then(|s| Uuid::parse_str(s.trim()).ok())
                .ok_or_else(|| Error::value(format!("collection id {v} is not a UUID")))?;
            let c = vigil_store::collections::get_collection(&mut self.store(), id).await.infra()?;
            if c.is_none_or(|c| c.company_id != company) {
                return Err(Error::value(format!("collection {id} does not exist in the folder's company")));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// Recomputes the folder's stage and verdict from its analyses (reference §4).
    pub(crate) async fn refresh_folder_status(&self, ex: &mut impl Exec, folder_id: Uuid, now: i64) -> Result<()> {
        let rows = analyses::statuses(ex, folder_id).await.infra()?;
        let view: Vec<StatusRow> = rows
            .iter()
            .map(|(g, t, s, r)| StatusRow { group_id: *g, time_created: *t, state: s, resolution: r })
            .collect();
        let (stage, verdict) = rules::folder_status(&view);
        folders::set_status(ex, folder_id, stage, verdict, now).await.infra()?;
        Ok(())
    }

    /// Fills source media and output-image links.
    pub(crate) async fn complete_analyses(&self, mut list: Vec<Analysis>) -> Result<Vec<Analysis>> {
        let mut folder_ids: Vec<Uuid> = list.iter().map(|a| a.folder_id).collect();
        folder_ids.sort();
        folder_ids.dedup();
        let by_id: HashMap<Uuid, Media> = media::of_folders(&mut self.store(), &folder_ids)
            .await
            .infra()?
            .into_iter()
            .map(|m| (m.media_id, self.with_urls(m)))
            .collect();
        let base = &self.cfg().public_url;
        let mut collections: HashMap<Uuid, Option<Value>> = HashMap::new();
        for a in list.iter_mut().filter(|a| a.analysis_type == AnalysisType::Collection.as_str()) {
            let Some(id) = shown_collection(a) else { continue };
            if let std::collections::hash_map::Entry::Vacant(slot) = collections.entry(id) {
                let c = vigil_store::collections::get_collection(&mut self.store(), id).await.infra()?;
                slot.insert(c.map(
                    |c| json!({ "collection_id": c.collection_id, "alias": c.alias, "company_id": c.company_id }),
                ));
            }
            a.collection = collections.get(&id).cloned().flatten();
        }
        for a in &mut list {
            a.source_media = a.source_ids.iter().filter_map(|id| by_id.get(id).cloned()).collect();
            for r in &mut a.results_media {
                for o in &mut r.output_images {
                    o.original_url = format!("{base}/static/{}/{}_output.jpg", a.folder_id, o.output_image_id);
                }
            }
        }
        Ok(list)
    }

    async fn analysis_for_read(&self, p: &Principal, id: Uuid) -> Result<Analysis> {
        let a = analyses::get(&mut self.store(), id).await.infra()?.ok_or_else(|| Error::not_found("analysis"))?;
        self.folder_for_read(p, a.folder_id).await.map_err(|_| Error::not_found("analysis"))?;
        Ok(a)
    }

    pub async fn get_analysis(&self, p: &Principal, id: Uuid) -> Result<Analysis> {
        let a = self.analysis_for_read(p, id).await?;
        self.complete_analyses(vec![a]).await?.pop().ok_or_else(|| Error::not_found("analysis"))
    }

    /// `GET /api/analyses/` (every folder the caller may read) or, with `folder`, one folder's.
    pub async fn list_analyses(
        &self,
        p: &Principal,
        folder: Option<Uuid>,
        mut f: AnalysisFilter,
    ) -> Result<Page<Analysis>> {
        let scope = match folder {
            Some(id) => {
                self.folder_for_read(p, id).await?;
                f.folder_ids = vec![id];
                vigil_domain::policy::Scope::All
            }
            None => p.folder_scope(),
        };
        let (items, total) = analyses::list(&mut self.store(), scope, &f).await.infra()?;
        Ok(Page { total, items: self.complete_analyses(items).await? })
    }

    /// The analyses of folders, for `with_analyses=true`.
    pub(crate) async fn analyses_of(&self, folder_ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Value>>> {
        let list = analyses::of_folders(&mut self.store(), folder_ids).await.infra()?;
        let mut out: HashMap<Uuid, Vec<Value>> = HashMap::new();
        for a in self.complete_analyses(list).await? {
            out.entry(a.folder_id).or_default().push(serde_json::to_value(&a).map_err(Error::internal)?);
        }
        Ok(out)
    }

    /// CLIENT ADMIN (own company) and ADMIN delete single analyses, with their output images.
    pub async fn delete_analysis(&self, p: &Principal, id: Uuid) -> Result<()> {
        let a = self.analysis_for_read(p, id).await?;
        let allowed = match p.role {
            Role::Admin => true,
            Role::ClientAdmin => p.company_id == a.company_id,
            _ => false,
        };
        if !allowed {
            return Err(Error::forbidden());
        }
        let now = now_micros();
        let mut tx = self.store().begin().await.infra()?;
        folders::touch(&mut tx, a.folder_id, now).await.infra()?;
        analyses::delete(&mut tx, id).await.infra()?;
        self.refresh_folder_status(&mut tx, a.folder_id, now).await?;
        let change = Change::new("delete", "analysis", id, Some(a.company_id))
            .in_folder(a.folder_id)
            .field("type", json!(a.analysis_type), Value::Null)
            .field("resolution_status", json!(a.resolution_status), Value::Null);
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        for r in &a.results_media {
            for o in &r.output_images {
                if let Err(e) = self.blob().delete(&output_key(a.company_id, a.folder_id, o.output_image_id)).await {
                    tracing::error!(analyse_id = %id, error = %e, "output image not removed");
                }
            }
        }
        Ok(())
    }

    /// "Make Decision": OPERATOR (any company), CLIENT OPERATOR or CLIENT ADMIN (own company; Oz
    /// changelog: "Client Admin and Client Operator can change the analysis status") sets the
    /// verdict of a finished analysis; ADMIN may not change verdicts.
    pub async fn decide_analysis(&self, p: &Principal, id: Uuid, d: Decision) -> Result<Analysis> {
        let a = self.analysis_for_read(p, id).await?;
        let allowed = match p.role {
            Role::Operator => true,
            Role::ClientOperator | Role::ClientAdmin => p.company_id == a.company_id,
            _ => false,
        };
        if !allowed {
            return Err(Error::new(
                Code::AuthForbidden,
                "only operators and client admins may set the verdict of an analysis",
            ));
        }
        if let Some(primary) = a.ab.as_ref().and_then(|ab| ab.shadow_of) {
            return Err(Error::value(format!(
                "a shadow analysis of an A/B experiment has no say in its folder; decide analysis {primary}"
            )));
        }
        let verdict = rules::check_operator_verdict(&d.resolution)?;
        if let Some(c) = &d.comment
            && c.len() > 4096
        {
            return Err(Error::value("comment is longer than 4096 bytes"));
        }
        if a.state != rules::FINISHED {
            return Err(Error::value(format!("only a FINISHED analysis can be decided; this one is {}", a.state)));
        }
        let now = now_micros();
        let mut tx = self.store().begin().await.infra()?;
        folders::touch(&mut tx, a.folder_id, now).await.infra()?;
        analyses::decide(&mut tx, id, verdict, p.user_id, d.comment.as_deref(), now).await.infra()?;
        self.refresh_folder_status(&mut tx, a.folder_id, now).await?;
        let change = Change::new("decide", "analysis", id, Some(a.company_id))
            .in_folder(a.folder_id)
            .field("resolution_status", json!(a.resolution_status), json!(verdict))
            .field("operator_comment", Value::Null, json!(d.comment));
        crate::audit::record(&mut tx, Caller::User(p), change).await?;
        tx.commit().await.infra()?;
        self.get_analysis(p, id).await
    }
}
