//! The Oz wire objects (reference §3). Timestamps are UNIX seconds; ids are UUID strings.
//!
//! Fields marked `serde(skip)` are host-internal (where a blob lives, for instance) and never
//! leave the server.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Company {
    pub company_id: Uuid,
    pub name: String,
    /// True for the system company that ADMIN and OPERATOR users belong to.
    pub is_system: bool,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub user_id: Uuid,
    /// ADMIN, OPERATOR, CLIENT or CLIENT_OPERATOR; CLIENT ADMIN is CLIENT + `is_admin`, a service
    /// account is CLIENT + `is_service` (the 5.x representation).
    pub user_type: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    pub company_id: Uuid,
    pub is_admin: bool,
    pub is_service: bool,
    pub is_active: bool,
    pub can_start_analyse_biometry: bool,
    pub can_start_analyse_quality: bool,
    pub can_start_analyse_collection: bool,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Media {
    pub media_id: Uuid,
    pub folder_id: Uuid,
    pub company_id: Uuid,
    pub original_name: Option<String>,
    /// IMAGE_FOLDER, VIDEO_FOLDER or SHOTS_SET.
    pub media_type: String,
    pub tags: Vec<String>,
    pub original_url: String,
    /// A JPEG no larger than 256×256 with the aspect ratio kept: the photo itself, or the first
    /// frame of a video or shots set.
    pub thumb_url: Option<String>,
    /// Videos: the same file as `original_url`; shots sets: the MP4 rebuilt from their frames.
    pub video_url: Option<String>,
    /// Shots sets: the MP4 rebuilt from their frames (as `video_url`).
    pub preview_url: Option<String>,
    pub info: MediaInfo,
    /// The file as received: MD5 (hex, computed while it streamed in; null for files stored
    /// before Vigil recorded it), size in bytes and MIME type.
    pub original_info: OriginalInfo,
    /// Shots sets: their image entries, in the order they are analysed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<Vec<ShotFrame>>,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
    #[serde(skip)]
    pub blob_key: String,
    #[serde(skip)]
    pub thumb_key: Option<String>,
    #[serde(skip)]
    pub preview_key: Option<String>,
    #[serde(skip)]
    pub snapshot_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
pub struct MediaInfo {
    pub size: i64,
    pub content_type: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
pub struct OriginalInfo {
    pub md5: Option<String>,
    pub size: i64,
    #[serde(rename = "mime-type")]
    pub mime_type: String,
}

/// One image of a shots set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ShotFrame {
    /// The entry's name inside the archive.
    pub name: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Folder {
    pub folder_id: Uuid,
    pub company_id: Uuid,
    pub user_id: Option<Uuid>,
    /// Processing stage: INITIAL, PROCESSING, FAILED, FINISHED.
    pub resolution_status: String,
    /// Verdict: INITIAL, PROCESSING, FAILED, SUCCESS, DECLINED, OPERATOR_REQUIRED.
    pub system_resolution: String,
    pub operator_status: Option<String>,
    pub operator_comment: Option<String>,
    pub media: Vec<Media>,
    /// Present with `with_analyses=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub analyses: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<Company>,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
    /// Personal data of this folder was wiped; no media may be added.
    #[serde(skip)]
    pub pi_deleted: bool,
    /// When its personal data was deleted (`DELETE /api/folders/{id}/pi/`); absent before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_pi_deleted: Option<f64>,
}

impl Folder {
    pub fn owned(&self) -> crate::policy::Owned {
        crate::policy::Owned { company_id: self.company_id, user_id: self.user_id }
    }
}

/// The list envelope: `total` is absent with `total_omit=true`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    pub items: Vec<T>,
}

/// The token pair of reference §3.9.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub expire_token: String,
    /// UNIX seconds when the access token expires unless used (sliding).
    pub expire_date: f64,
    pub user: User,
}

/// An installed plugin version (`/api/plugins`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginInfo {
    pub plugin_id: Uuid,
    /// The owning company; null for a global built-in.
    pub company_id: Option<Uuid>,
    /// analysis, document-check, report-template or ab-rule.
    pub kind: String,
    pub name: String,
    pub version: String,
    /// SHA-256 of the component.
    pub sha256: String,
    pub size: i64,
    #[schema(value_type = Object)]
    pub config: Value,
    /// The SDK stamp (`world=…;wit=…;sdk=…`) when built with the Vigil SDK.
    pub sdk: Option<String>,
    /// The version new calls use.
    pub active: bool,
    pub time_created: f64,
    pub time_updated: f64,
}

/// `POST /api/media/{id}/snapshot/`: which still to make (the first frame when empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SnapshotRequest {
    /// Videos: seconds from the start.
    pub time: Option<f64>,
    /// Shots sets: index of the frame, from 0.
    pub frame: Option<usize>,
}

/// An analysis (reference §3.6).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Analysis {
    pub analyse_id: Uuid,
    pub folder_id: Uuid,
    pub company_id: Uuid,
    pub user_id: Option<Uuid>,
    /// Shared by the analyses requested together; the folder verdict comes from the latest group.
    pub group_id: Uuid,
    /// QUALITY, BIOMETRY, COLLECTION, DOCUMENTS (or a custom type served by a plugin).
    #[serde(rename = "type")]
    pub analysis_type: String,
    /// PROCESSING, FINISHED or FAILED.
    pub state: String,
    /// PROCESSING, FAILED, SUCCESS, DECLINED or OPERATOR_REQUIRED; an operator decision sets it.
    pub resolution_status: String,
    /// Same as `resolution_status` (SDKs read this one).
    pub resolution: String,
    /// The verdict the analysis itself reached, before any operator decision.
    pub system_resolution: String,
    #[schema(value_type = Object)]
    pub params: Value,
    pub source_media: Vec<Media>,
    /// The analysis-level result. BIOMETRY: `min_confidence` / `max_confidence` (the least and
    /// most similar pair on the calibrated scale: 0.5 ≈ FMR 1e-2, 0.7 ≈ 1e-3, 0.85 ≈ 1e-4; the
    /// verdict compares `min_confidence` with `threshold`), `min_cosine` / `max_cosine` (the raw
    /// similarities), `embedding_model`, `calibration` (its version), `threshold`,
    /// `threshold_min` and `worst_pair` (two media ids). QUALITY: `confidence_spoofing` (the
    /// worst media's), `threshold`, and `declined` (`[{media_id, by}]`: media declined by a
    /// motion cue or a missing gesture, whatever the threshold).
    #[schema(value_type = Option<Object>)]
    pub results_data: Option<Value>,
    pub results_media: Vec<ResultMedia>,
    /// COLLECTION analyses: the collection searched (`collection_id`, `alias`, `company_id`) —
    /// the one with the best match, else the first named or searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub collection: Option<Value>,
    /// Why the analysis FAILED: `{error_code, error_message, details}`.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub operator_id: Option<Uuid>,
    pub operator_comment: Option<String>,
    pub time_decided: Option<f64>,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    /// Which plugin version decided, attempts, worker and timings.
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_task_send_to_broker: Option<f64>,
    pub time_task_received: Option<f64>,
    pub time_task_finished: Option<f64>,
    pub time_created: f64,
    pub time_updated: f64,
    #[serde(skip)]
    pub source_ids: Vec<Uuid>,
    #[serde(skip)]
    pub webhook_url: Option<String>,
    /// The experiment and variant that ran it (also shown in `technical_meta_data.ab_test`).
    #[serde(skip)]
    pub ab: Option<crate::ab::Assignment>,
}

/// The result of an analysis for one of its media.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResultMedia {
    pub result_media_id: Uuid,
    pub source_media_id: Uuid,
    pub analyse_id: Uuid,
    /// This media's result. QUALITY: `confidence_spoofing` (the passive model's mean over the
    /// frames moved by the cues' votes, or at least 0.99 after a veto; see `docs/LIVENESS.md`),
    /// `max_frame_spoofing`, `frames`, `frames_with_face`, `best_shot_frame`, and `liveness`:
    /// `passive`, one `{value, decided, verdict, reason}` per cue (`flatness`, `consistency`,
    /// `blink`, `texture`, `surroundings`), `gesture` (`{gesture, shown, value, reason}`, for a
    /// gesture tag), `declined_by` and `reasons`.
    #[schema(value_type = Object)]
    pub results_data: Value,
    pub output_images: Vec<OutputImage>,
}

/// An image an analysis produced (the best shot), served under `original_url`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutputImage {
    pub output_image_id: Uuid,
    /// What the plugin called it (`best_shot`).
    pub label: String,
    #[serde(default)]
    pub original_url: String,
}

/// A company's face collection for 1:N search (reference §3.7). Bound to the embedding model
/// its faces were embedded with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Collection {
    pub collection_id: Uuid,
    /// The name clients look collections up by (the SDKs search for `blacklist`); unique within a
    /// company.
    pub alias: String,
    pub company_id: Uuid,
    /// The embedding model of every face in the collection.
    pub embedding_model: String,
    /// Persons and faces enrolled (counted when read).
    pub persons_count: i64,
    pub images_count: i64,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

/// A person in a collection; `meta_data.person_info` carries `first_name`, `middle_name`,
/// `last_name`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    pub person_id: Uuid,
    pub collection_id: Uuid,
    pub company_id: Uuid,
    /// The person's images (on create and get; lists leave it empty).
    pub images: Vec<PersonImage>,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    #[schema(value_type = Object)]
    pub technical_meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

/// One enrolled photo of a person, with the face found in it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonImage {
    pub person_image_id: Uuid,
    pub person_id: Uuid,
    pub collection_id: Uuid,
    pub company_id: Uuid,
    pub original_name: Option<String>,
    pub tags: Vec<String>,
    /// The photo, served to callers who may read the collection.
    pub original_url: String,
    pub info: MediaInfo,
    /// The face enrolled: `{x, y, width, height, score}` in the photo's pixels.
    #[schema(value_type = Object)]
    pub face: Value,
    pub embedding_model: String,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
    #[serde(skip)]
    pub blob_key: String,
    #[serde(skip)]
    pub md5: Option<String>,
}

/// A company's report template (`/api/report_templates`): a minijinja file (`.typ` for PDF,
/// `.html` for HTML) run by the generic template component, or the company's own
/// `report-template` Wasm component; each update is a new `version`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportTemplate {
    pub report_template_id: Uuid,
    /// The owning company; null for a global template (ADMIN's).
    pub company_id: Option<Uuid>,
    pub name: String,
    pub version: i64,
    /// `template` (a minijinja file) or `component` (a Wasm component).
    pub kind: String,
    /// The uploaded file's name; its extension says what the template produces.
    pub file_name: String,
    /// SHA-256 of the uploaded file.
    pub sha256: String,
    pub size: i64,
    /// Used when a report request names no template.
    pub is_default: bool,
    pub attachments: Vec<ReportAttachment>,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

/// A file a template refers to as `attachments/<name>` (a logo, a font, an image).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportAttachment {
    pub attachment_id: Uuid,
    pub report_template_id: Uuid,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub time_created: f64,
}

/// A generated folder report (`/api/folders/{id}/reports`), kept as a file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub report_id: Uuid,
    pub folder_id: Uuid,
    pub company_id: Uuid,
    /// Who asked for it.
    pub user_id: Option<Uuid>,
    /// Null for the built-in default template.
    pub report_template_id: Option<Uuid>,
    pub template_name: String,
    /// The template version the report was made with.
    pub template_version: i64,
    /// `pdf` or `html`.
    pub format: String,
    /// `report_<folder_id>_<time>.pdf`.
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    /// The permission-checked download link.
    pub file_url: String,
    pub time_created: f64,
    #[serde(skip)]
    pub blob_key: String,
}
