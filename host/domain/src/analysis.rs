//! Analyses: their types, which media they take (reference §1.5), their statuses and the folder
//! aggregate (§4), the list filter and the retry backoff of their jobs.

use crate::filter::{Paging, Sorting, apply_paging, parse_bool, parse_sorting, parse_uuid_list};
use crate::time::{Micros, parse_unix_secs};
use crate::{Code, Error, Result};
use serde_json::Value;
use uuid::Uuid;

/// The analysis types of the wire protocol. Other names are custom types served by a plugin of
/// the same (lower-case) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisType {
    Quality,
    Biometry,
    Collection,
    Documents,
    Custom(String),
}

impl AnalysisType {
    /// Case-insensitive; `liveness` is the 2019 SDKs' alias of QUALITY.
    pub fn parse(s: &str) -> Result<AnalysisType> {
        let up = s.trim().to_ascii_uppercase();
        Ok(match up.as_str() {
            "QUALITY" | "LIVENESS" => AnalysisType::Quality,
            "BIOMETRY" => AnalysisType::Biometry,
            "COLLECTION" | "BLACKLIST" => AnalysisType::Collection,
            "DOCUMENTS" => AnalysisType::Documents,
            _ => {
                let ok = !up.is_empty()
                    && up.len() <= 64
                    && up.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !ok {
                    return Err(Error::value(format!(
                        "unknown analysis type '{s}'; expected quality, biometry, collection or documents"
                    )));
                }
                AnalysisType::Custom(up)
            }
        })
    }

    /// The upper-case wire name.
    pub fn as_str(&self) -> &str {
        match self {
            AnalysisType::Quality => "QUALITY",
            AnalysisType::Biometry => "BIOMETRY",
            AnalysisType::Collection => "COLLECTION",
            AnalysisType::Documents => "DOCUMENTS",
            AnalysisType::Custom(s) => s,
        }
    }

    /// The name of the plugin that serves this type (a company's own first, then the built-in).
    pub fn plugin_name(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

/// What selection needs to know of a media.
#[derive(Debug, Clone, Copy)]
pub struct MediaRef<'a> {
    pub id: Uuid,
    pub media_type: &'a str,
    pub tags: &'a [String],
}

impl MediaRef<'_> {
    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
    fn is_image(&self) -> bool {
        self.media_type == crate::media::MediaType::Image.as_str()
    }
    fn is_document(&self) -> bool {
        self.has("photo_id") || self.has("photo_id_front") || self.has("photo_id_back")
    }
    fn has_selfie_gesture(&self) -> bool {
        self.tags.iter().any(|t| t.starts_with("video_selfie"))
    }
}

/// The media an analysis takes (reference §1.5). With `source` the caller named them: each must be
/// in the folder and they are taken as given. Otherwise the default rule of the type applies.
/// Too few media is an INVALID VALUE error that says what was missing.
pub fn select_media(t: &AnalysisType, media: &[MediaRef], source: Option<&[Uuid]>) -> Result<Vec<Uuid>> {
    let picked: Vec<Uuid> = match source {
        Some(ids) => {
            let mut out = Vec::new();
            for id in ids {
                if !media.iter().any(|m| m.id == *id) {
                    return Err(Error::value(format!("source_media: media {id} is not in this folder")));
                }
                if !out.contains(id) {
                    out.push(*id);
                }
            }
            out
        }
        None => media.iter().filter(|m| takes_by_default(t, m)).map(|m| m.id).collect(),
    };
    let need = if *t == AnalysisType::Biometry { 2 } else { 1 };
    if picked.len() < need {
        let rule = match t {
            AnalysisType::Quality => {
                "QUALITY takes videos and shots sets tagged video_selfie* and photos not tagged photo_id*"
            }
            AnalysisType::Biometry => "BIOMETRY needs at least two photos or videos not tagged photo_id_back",
            AnalysisType::Collection => "COLLECTION takes media not tagged photo_id_back",
            AnalysisType::Documents => "DOCUMENTS takes photos tagged photo_id_front or photo_id_back",
            AnalysisType::Custom(_) => "a custom analysis takes every media of the folder",
        };
        return Err(Error::value(format!(
            "not enough media for {}: {} usable, {need} needed ({rule})",
            t.as_str(),
            picked.len()
        )));
    }
    Ok(picked)
}

fn takes_by_default(t: &AnalysisType, m: &MediaRef) -> bool {
    match t {
        // 5.0.0: a single photo can be analysed; 5.1.0: document photos are skipped.
        AnalysisType::Quality => {
            if m.is_image() {
                !m.is_document()
            } else {
                m.has_selfie_gesture()
            }
        }
        AnalysisType::Biometry | AnalysisType::Collection => !m.has("photo_id_back"),
        AnalysisType::Documents => m.is_image() && (m.has("photo_id_front") || m.has("photo_id_back")),
        AnalysisType::Custom(_) => true,
    }
}

pub const PROCESSING: &str = "PROCESSING";
pub const FINISHED: &str = "FINISHED";
pub const FAILED: &str = "FAILED";
pub const SUCCESS: &str = "SUCCESS";
pub const DECLINED: &str = "DECLINED";
pub const OPERATOR_REQUIRED: &str = "OPERATOR_REQUIRED";
pub const INITIAL: &str = "INITIAL";

/// A verdict a plugin may return.
pub fn check_plugin_verdict(v: &str) -> Option<&'static str> {
    match v {
        SUCCESS => Some(SUCCESS),
        DECLINED => Some(DECLINED),
        OPERATOR_REQUIRED => Some(OPERATOR_REQUIRED),
        _ => None,
    }
}

/// A verdict an operator may set ("Make Decision").
pub fn check_operator_verdict(v: &str) -> Result<&'static str> {
    match v.trim().to_ascii_uppercase().as_str() {
        SUCCESS => Ok(SUCCESS),
        DECLINED => Ok(DECLINED),
        _ => Err(Error::value(format!("resolution must be SUCCESS or DECLINED, got '{v}'"))),
    }
}

/// One analysis as the folder aggregate sees it.
#[derive(Debug, Clone, Copy)]
pub struct StatusRow<'a> {
    pub group_id: Uuid,
    pub time_created: Micros,
    pub state: &'a str,
    pub resolution: &'a str,
}

/// The folder's `(resolution_status, system_resolution)` (reference §4). The stage is PROCESSING
/// while any analysis of the folder runs; otherwise, like the verdict, it comes from the latest
/// group of analyses (those requested together), so a new request supersedes an old failure.
pub fn folder_status(rows: &[StatusRow]) -> (&'static str, &'static str) {
    let Some(latest) = rows.iter().max_by_key(|r| (r.time_created, r.group_id)).map(|r| r.group_id) else {
        return (INITIAL, INITIAL);
    };
    let group: Vec<&StatusRow> = rows.iter().filter(|r| r.group_id == latest).collect();
    let any = |f: &dyn Fn(&StatusRow) -> bool| group.iter().any(|r| f(r));
    let verdict = if any(&|r| r.state == PROCESSING) {
        PROCESSING
    } else if any(&|r| r.state == FAILED) {
        FAILED
    } else if any(&|r| r.resolution == DECLINED) {
        DECLINED
    } else if any(&|r| r.resolution == OPERATOR_REQUIRED) {
        OPERATOR_REQUIRED
    } else {
        SUCCESS
    };
    let stage = if rows.iter().any(|r| r.state == PROCESSING) {
        PROCESSING
    } else if verdict == FAILED {
        FAILED
    } else {
        FINISHED
    };
    (stage, verdict)
}

/// Delay before retry number `attempt` (1 = the first retry): `base` doubled per attempt, plus up
/// to half again as jitter (`jitter` in [0, 1)), capped at an hour.
pub fn backoff_ms(base_ms: u64, attempt: u32, jitter: f64) -> u64 {
    let exp = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    let with_jitter = exp as f64 * (1.0 + 0.5 * jitter.clamp(0.0, 1.0));
    (with_jitter as u64).min(3_600_000)
}

/// Filters of `GET /api/analyses/` and `GET /api/folders/{id}/analyses/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisFilter {
    pub ids: Vec<Uuid>,
    pub ids_exclude: Vec<Uuid>,
    pub types: Vec<String>,
    pub types_exclude: Vec<String>,
    /// Matched against `state` and `resolution_status`: old clients send verdicts in `state=`.
    pub states: Vec<String>,
    pub states_exclude: Vec<String>,
    pub resolution_status: Vec<String>,
    pub folder_ids: Vec<Uuid>,
    pub group_ids: Vec<Uuid>,
    /// Analyses an experiment routed, shadows included unless `ab_shadow` says otherwise.
    pub ab_test_ids: Vec<Uuid>,
    pub ab_variants: Vec<String>,
    /// Only shadow analyses (true) or none (false); by default shadows are listed only with
    /// `ab_test_id`, so the ordinary views never show them.
    pub ab_shadow: Option<bool>,
    pub created_min: Option<Micros>,
    pub created_max: Option<Micros>,
    pub updated_min: Option<Micros>,
    pub updated_max: Option<Micros>,
    pub sorting: Sorting,
    pub paging: Paging,
}

const STATUS_VALUES: &[&str] = &[PROCESSING, FAILED, FINISHED, SUCCESS, DECLINED, OPERATOR_REQUIRED, INITIAL];

fn upper_list(key: &str, v: &str, allowed: Option<&[&str]>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for s in v.split(',').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()) {
        if let Some(a) = allowed
            && !a.contains(&s.as_str())
        {
            return Err(Error::value(format!("unknown {key} '{s}'; expected one of {}", a.join(", "))));
        }
        out.push(s);
    }
    Ok(out)
}

fn time(key: &str, v: &str) -> Result<Micros> {
    parse_unix_secs(v).ok_or_else(|| {
        Error::new(Code::InvalidType, format!("'{key}' must be a UNIX timestamp (seconds or milliseconds), got '{v}'"))
    })
}

impl AnalysisFilter {
    pub fn parse(pairs: &[(String, String)]) -> Result<Self> {
        let mut f = AnalysisFilter::default();
        for (key, v) in pairs {
            let k = key.as_str();
            if apply_paging(&mut f.paging, k, v)? {
                continue;
            }
            match k {
                "analyse_id" | "analysis_id" => f.ids.extend(parse_uuid_list(k, v)?),
                "analyse_id.exclude" | "analysis_id.exclude" => f.ids_exclude.extend(parse_uuid_list(k, v)?),
                "type" => f.types.extend(upper_list(k, v, None)?.into_iter().map(|t| canonical_type(&t))),
                "type.exclude" => {
                    f.types_exclude.extend(upper_list(k, v, None)?.into_iter().map(|t| canonical_type(&t)))
                }
                "state" => f.states.extend(upper_list(k, v, Some(STATUS_VALUES))?),
                "state.exclude" => f.states_exclude.extend(upper_list(k, v, Some(STATUS_VALUES))?),
                "resolution_status" | "resolution" => {
                    f.resolution_status.extend(upper_list(k, v, Some(STATUS_VALUES))?)
                }
                "folder_id" => f.folder_ids.extend(parse_uuid_list(k, v)?),
                "group_id" => f.group_ids.extend(parse_uuid_list(k, v)?),
                "ab_test_id" => f.ab_test_ids.extend(parse_uuid_list(k, v)?),
                "ab_variant" => {
                    f.ab_variants.extend(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string))
                }
                "ab_shadow" => f.ab_shadow = Some(parse_bool(k, v)?),
                "time_created.min" => f.created_min = Some(time(k, v)?),
                "time_created.max" => f.created_max = Some(time(k, v)?),
                "time_updated.min" => f.updated_min = Some(time(k, v)?),
                "time_updated.max" => f.updated_max = Some(time(k, v)?),
                "sorting" => f.sorting = parse_sorting(v)?,
                // Accepted for symmetry with the folder list; analyses always carry their media.
                "with_results_media" => {
                    parse_bool(k, v)?;
                }
                // Unknown keys are ignored, as Oz ignores them.
                _ => {}
            }
        }
        Ok(f)
    }
}

fn canonical_type(t: &str) -> String {
    AnalysisType::parse(t).map(|t| t.as_str().to_string()).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m<'a>(id: u128, ty: &'a str, tags: &'a [String]) -> MediaRef<'a> {
        MediaRef { id: Uuid::from_u128(id), media_type: ty, tags }
    }
    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn types_are_case_insensitive_and_upper_case_on_the_wire() {
        assert_eq!(AnalysisType::parse("quality").unwrap(), AnalysisType::Quality);
        assert_eq!(AnalysisType::parse("Liveness").unwrap().as_str(), "QUALITY");
        assert_eq!(AnalysisType::parse("BIOMETRY").unwrap().plugin_name(), "biometry");
        assert_eq!(AnalysisType::parse("my_check").unwrap().as_str(), "MY_CHECK");
        assert!(AnalysisType::parse("no way!").is_err());
    }

    #[test]
    fn quality_takes_selfie_videos_and_plain_photos_but_not_documents() {
        let video = tags(&["video_selfie", "video_selfie_blank"]);
        let plain_video = tags(&[]);
        let selfie = tags(&["photo_selfie"]);
        let front = tags(&["photo_id", "photo_id_front"]);
        let list = [
            m(1, "VIDEO_FOLDER", &video),
            m(2, "VIDEO_FOLDER", &plain_video),
            m(3, "IMAGE_FOLDER", &selfie),
            m(4, "IMAGE_FOLDER", &front),
            m(5, "SHOTS_SET", &video),
        ];
        let got = select_media(&AnalysisType::Quality, &list, None).unwrap();
        assert_eq!(got, vec![Uuid::from_u128(1), Uuid::from_u128(3), Uuid::from_u128(5)]);
        // Only a document photo: nothing to analyse is an error, never a SUCCESS.
        let e = select_media(&AnalysisType::Quality, &list[3..4], None).unwrap_err();
        assert_eq!(e.code, Code::InvalidValue);
        assert!(e.message.contains("0 usable"), "{}", e.message);
    }

    #[test]
    fn biometry_needs_two_and_skips_document_backs() {
        let selfie = tags(&["photo_selfie"]);
        let back = tags(&["photo_id", "photo_id_back"]);
        let front = tags(&["photo_id", "photo_id_front"]);
        let e =
            select_media(&AnalysisType::Biometry, &[m(1, "IMAGE_FOLDER", &selfie), m(2, "IMAGE_FOLDER", &back)], None)
                .unwrap_err();
        assert!(e.message.contains("1 usable, 2 needed"), "{}", e.message);
        let ok =
            select_media(&AnalysisType::Biometry, &[m(1, "IMAGE_FOLDER", &selfie), m(2, "IMAGE_FOLDER", &front)], None)
                .unwrap();
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn source_media_is_honoured_and_checked() {
        let t = tags(&[]);
        let list = [m(1, "IMAGE_FOLDER", &t), m(2, "IMAGE_FOLDER", &t), m(3, "IMAGE_FOLDER", &t)];
        let ids = [Uuid::from_u128(3), Uuid::from_u128(1), Uuid::from_u128(3)];
        assert_eq!(
            select_media(&AnalysisType::Biometry, &list, Some(&ids)).unwrap(),
            vec![Uuid::from_u128(3), Uuid::from_u128(1)]
        );
        assert!(select_media(&AnalysisType::Biometry, &list, Some(&[Uuid::from_u128(9)])).is_err());
        assert!(select_media(&AnalysisType::Biometry, &list, Some(&[Uuid::from_u128(1)])).is_err());
    }

    fn row(g: u128, t: i64, state: &'static str, res: &'static str) -> StatusRow<'static> {
        StatusRow { group_id: Uuid::from_u128(g), time_created: t, state, resolution: res }
    }

    #[test]
    fn folder_status_follows_the_latest_group() {
        assert_eq!(folder_status(&[]), (INITIAL, INITIAL));
        let running = [row(1, 1, PROCESSING, PROCESSING), row(1, 1, FINISHED, SUCCESS)];
        assert_eq!(folder_status(&running), (PROCESSING, PROCESSING));
        let mixed = [row(1, 1, FINISHED, SUCCESS), row(1, 1, FINISHED, OPERATOR_REQUIRED)];
        assert_eq!(folder_status(&mixed), (FINISHED, OPERATOR_REQUIRED));
        let declined = [row(1, 1, FINISHED, DECLINED), row(1, 1, FINISHED, OPERATOR_REQUIRED)];
        assert_eq!(folder_status(&declined), (FINISHED, DECLINED));
        let failed = [row(1, 1, FAILED, FAILED), row(1, 1, FINISHED, DECLINED)];
        assert_eq!(folder_status(&failed), (FAILED, FAILED));
        // A newer group supersedes an older failure.
        let newer = [row(1, 1, FAILED, FAILED), row(2, 5, FINISHED, SUCCESS)];
        assert_eq!(folder_status(&newer), (FINISHED, SUCCESS));
        // An older group still running keeps the stage PROCESSING.
        let older_running = [row(1, 1, PROCESSING, PROCESSING), row(2, 5, FINISHED, SUCCESS)];
        assert_eq!(folder_status(&older_running), (PROCESSING, SUCCESS));
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        assert_eq!(backoff_ms(1000, 1, 0.0), 1000);
        assert_eq!(backoff_ms(1000, 2, 0.0), 2000);
        assert_eq!(backoff_ms(1000, 3, 0.0), 4000);
        assert_eq!(backoff_ms(1000, 3, 0.999), 5998);
        assert_eq!(backoff_ms(1000, 40, 0.5), 3_600_000);
    }

    #[test]
    fn filter_parses_the_reference_keys() {
        let p = |s: &[(&str, &str)]| {
            AnalysisFilter::parse(&s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
        };
        let f = p(&[("type", "biometry,quality"), ("state", "FINISHED"), ("type.exclude", "liveness")]).unwrap();
        assert_eq!(f.types, vec!["BIOMETRY", "QUALITY"]);
        assert_eq!(f.types_exclude, vec!["QUALITY"]);
        assert_eq!(f.states, vec!["FINISHED"]);
        assert!(p(&[("state", "DONE")]).is_err());
        assert!(p(&[("colour", "red")]).is_ok(), "unknown keys are ignored");
        assert!(p(&[("analyse_id.exclude", "not-a-uuid")]).is_err());
    }
}

/// String fields of a result that say what was decided, not who was seen; every other string
/// of a result may be personal (a name, a document number, a date of birth) and goes.
const VERDICT_KEYS: &[&str] = &[
    "resolution",
    "resolution_status",
    "status",
    "state",
    "reason",
    "reasons",
    "code",
    "error_code",
    "kind",
    "type",
    "check",
    "checks",
    "severity",
    "outcome",
    "decision",
    "model",
    "plugin",
    "version",
];
/// Longer numeric arrays are embeddings or landmarks: biometric data.
const MAX_KEPT_NUMBERS: usize = 16;

/// What a personal-data deletion leaves of an analysis result: its scores (numbers and flags,
/// wherever they are) and the words of its verdict; strings outside [`VERDICT_KEYS`] and long
/// numeric arrays (embeddings, landmarks) are removed.
pub fn strip_personal(v: &Value) -> Value {
    strip(v, None)
}

fn strip(v: &Value, key: Option<&str>) -> Value {
    let verdict_word = key.is_some_and(|k| VERDICT_KEYS.contains(&k));
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => v.clone(),
        Value::String(s) if verdict_word && s.len() <= 64 => v.clone(),
        Value::String(_) => Value::Null,
        Value::Array(items) => {
            if items.len() > MAX_KEPT_NUMBERS && items.iter().all(Value::is_number) {
                return Value::Null;
            }
            Value::Array(items.iter().map(|i| strip(i, key)).filter(|i| !i.is_null()).collect())
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), strip(v, Some(k)))).filter(|(_, v)| !v.is_null()).collect())
        }
    }
}

#[cfg(test)]
mod strip_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scores_and_verdict_words_stay_personal_strings_go() {
        let r = json!({
            "confidence": 0.93, "passed": true, "resolution": "DECLINED", "reasons": ["expired"],
            "fields": {"surname": {"visual": "ERIKSSON", "mrz": "ERIKSSON", "match": true, "score": 1.0}},
            "embedding": (0..512).map(|i| i as f64 / 512.0).collect::<Vec<_>>(),
            "box": [1, 2, 3, 4],
        });
        let s = strip_personal(&r);
        assert_eq!(
            s,
            json!({
                "confidence": 0.93, "passed": true, "resolution": "DECLINED", "reasons": ["expired"],
                "fields": {"surname": {"match": true, "score": 1.0}},
                "box": [1, 2, 3, 4],
            })
        );
        assert!(!s.to_string().contains("ERIKSSON"));
    }
}
