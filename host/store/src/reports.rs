//! Report templates, their attachments, and generated reports.

use crate::{Exec, Result, Row, Sql};
use uuid::Uuid;
use vigil_domain::filter::Paging;
use vigil_domain::model::{Report, ReportAttachment, ReportTemplate};
use vigil_domain::time::Micros;

const TEMPLATE_COLS: &str = "report_template_id, company_id, name, version, source_kind, file_name, blob_key, \
     sha256, size, is_default, meta_data, time_created, time_updated";

/// A stored template version with where its file lives.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub info: ReportTemplate,
    pub blob_key: String,
}

fn template_row(r: &dyn Row) -> Result<TemplateRow> {
    Ok(TemplateRow {
        info: ReportTemplate {
            report_template_id: r.uuid("report_template_id")?,
            company_id: r.opt_uuid("company_id")?,
            name: r.text("name")?,
            version: r.int("version")?,
            kind: r.text("source_kind")?,
            file_name: r.text("file_name")?,
            sha256: r.text("sha256")?,
            size: r.int("size")?,
            is_default: r.boolean("is_default")?,
            attachments: Vec::new(),
            meta_data: r.json("meta_data")?,
            time_created: r.secs("time_created")?,
            time_updated: r.secs("time_updated")?,
        },
        blob_key: r.text("blob_key")?,
    })
}

pub async fn insert_template(ex: &mut impl Exec, t: &TemplateRow, now: Micros) -> Result<()> {
    let i = &t.info;
    let mut q = Sql::new(&format!("INSERT INTO report_templates ({TEMPLATE_COLS}) VALUES ("));
    q.bind(i.report_template_id).push(", ").bind(i.company_id).push(", ").bind(i.name.as_str()).push(", ");
    q.bind(i.version).push(", ").bind(i.kind.as_str()).push(", ").bind(i.file_name.as_str()).push(", ");
    q.bind(t.blob_key.as_str()).push(", ").bind(i.sha256.as_str()).push(", ").bind(i.size).push(", ");
    q.bind(i.is_default).push(", ").bind(&i.meta_data).push(", ").bind(now).push(", ").bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

/// Replaces the template's content and settings with a new version.
pub async fn update_template(ex: &mut impl Exec, t: &TemplateRow, now: Micros) -> Result<()> {
    let i = &t.info;
    let mut q = Sql::new("UPDATE report_templates SET name = ");
    q.bind(i.name.as_str()).push(", version = ").bind(i.version).push(", source_kind = ").bind(i.kind.as_str());
    q.push(", file_name = ").bind(i.file_name.as_str()).push(", blob_key = ").bind(t.blob_key.as_str());
    q.push(", sha256 = ").bind(i.sha256.as_str()).push(", size = ").bind(i.size);
    q.push(", is_default = ").bind(i.is_default).push(", meta_data = ").bind(&i.meta_data);
    q.push(", time_updated = ").bind(now).push(" WHERE report_template_id = ").bind(i.report_template_id);
    ex.execute(q).await.map(|_| ())
}

pub async fn get_template(ex: &mut impl Exec, id: Uuid) -> Result<Option<TemplateRow>> {
    let mut q = Sql::new(&format!("SELECT {TEMPLATE_COLS} FROM report_templates WHERE report_template_id = "));
    q.bind(id);
    ex.fetch_optional(q, template_row).await
}

/// The templates `company` may use (its own and the global ones; every template with `None`),
/// oldest first.
pub async fn list_templates(
    ex: &mut impl Exec,
    company: Option<Uuid>,
    paging: Paging,
) -> Result<(Vec<TemplateRow>, Option<i64>)> {
    let mut w = Sql::new(" WHERE 1=1");
    if let Some(c) = company {
        w.push(" AND (company_id IS NULL OR company_id = ").bind(c).push(")");
    }
    crate::page(ex, "report_templates", TEMPLATE_COLS, w, "time_created, report_template_id", paging, template_row)
        .await
}

/// The template a report of `company` uses when none is named: the company's newest default,
/// else the newest global default; `None` means the built-in one.
pub async fn default_template(ex: &mut impl Exec, company: Uuid) -> Result<Option<TemplateRow>> {
    let mut q = Sql::new(&format!("SELECT {TEMPLATE_COLS} FROM report_templates WHERE is_default = TRUE AND "));
    q.push("(company_id = ").bind(company).push(" OR company_id IS NULL)");
    // Company templates before global ones (NULLs last in both dialects via the CASE).
    q.push(" ORDER BY CASE WHEN company_id IS NULL THEN 1 ELSE 0 END, time_updated DESC LIMIT 1");
    ex.fetch_optional(q, template_row).await
}

/// The newest global default (what ADMIN and OPERATOR, who have no company templates, get).
pub async fn global_default_template(ex: &mut impl Exec) -> Result<Option<TemplateRow>> {
    let q = Sql::new(&format!(
        "SELECT {TEMPLATE_COLS} FROM report_templates WHERE is_default = TRUE AND company_id IS NULL \
         ORDER BY time_updated DESC LIMIT 1"
    ));
    ex.fetch_optional(q, template_row).await
}

pub async fn delete_template(ex: &mut impl Exec, id: Uuid) -> Result<()> {
    let mut q = Sql::new("DELETE FROM report_templates WHERE report_template_id = ");
    q.bind(id);
    ex.execute(q).await.map(|_| ())
}

const ATTACHMENT_COLS: &str = "attachment_id, report_template_id, name, content_type, blob_key, size, time_created";

/// An attachment with where its file lives.
#[derive(Debug, Clone)]
pub struct AttachmentRow {
    pub info: ReportAttachment,
    pub blob_key: String,
}

fn attachment_row(r: &dyn Row) -> Result<AttachmentRow> {
    Ok(AttachmentRow {
        info: ReportAttachment {
            attachment_id: r.uuid("attachment_id")?,
            report_template_id: r.uuid("report_template_id")?,
            name: r.text("name")?,
            content_type: r.text("content_type")?,
            size: r.int("size")?,
            time_created: r.secs("time_created")?,
        },
        blob_key: r.text("blob_key")?,
    })
}

pub async fn insert_attachment(ex: &mut impl Exec, a: &AttachmentRow, now: Micros) -> Result<()> {
    let i = &a.info;
    let mut q = Sql::new(&format!("INSERT INTO report_template_attachments ({ATTACHMENT_COLS}) VALUES ("));
    q.bind(i.attachment_id).push(", ").bind(i.report_template_id).push(", ").bind(i.name.as_str()).push(", ");
    q.bind(i.content_type.as_str()).push(", ").bind(a.blob_key.as_str()).push(", ").bind(i.size).push(", ");
    q.bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

/// A template's attachments by name.
pub async fn attachments(ex: &mut impl Exec, template: Uuid) -> Result<Vec<AttachmentRow>> {
    let mut q =
        Sql::new(&format!("SELECT {ATTACHMENT_COLS} FROM report_template_attachments WHERE report_template_id = "));
    q.bind(template).push(" ORDER BY name");
    ex.fetch_all(q, attachment_row).await
}

pub async fn get_attachment(ex: &mut impl Exec, template: Uuid, id: Uuid) -> Result<Option<AttachmentRow>> {
    let mut q = Sql::new(&format!("SELECT {ATTACHMENT_COLS} FROM report_template_attachments WHERE attachment_id = "));
    q.bind(id).push(" AND report_template_id = ").bind(template);
    ex.fetch_optional(q, attachment_row).await
}

/// Removes the attachment of that name, answering its file's key.
pub async fn delete_attachment_named(ex: &mut impl Exec, template: Uuid, name: &str) -> Result<Option<String>> {
    let mut q = Sql::new(&format!("SELECT {ATTACHMENT_COLS} FROM report_template_attachments WHERE name = "));
    q.bind(name).push(" AND report_template_id = ").bind(template);
    let Some(old) = ex.fetch_optional(q, attachment_row).await? else {
        return Ok(None);
    };
    delete_attachment(ex, old.info.attachment_id).await?;
    Ok(Some(old.blob_key))
}

pub async fn delete_attachment(ex: &mut impl Exec, id: Uuid) -> Result<()> {
    let mut q = Sql::new("DELETE FROM report_template_attachments WHERE attachment_id = ");
    q.bind(id);
    ex.execute(q).await.map(|_| ())
}

const REPORT_COLS: &str = "report_id, folder_id, company_id, user_id, report_template_id, template_name, \
     template_version, format, file_name, content_type, blob_key, size, time_created";

fn report_row(r: &dyn Row) -> Result<Report> {
    Ok(Report {
        report_id: r.uuid("report_id")?,
        folder_id: r.uuid("folder_id")?,
        company_id: r.uuid("company_id")?,
        user_id: r.opt_uuid("user_id")?,
        report_template_id: r.opt_uuid("report_template_id")?,
        template_name: r.text("template_name")?,
        template_version: r.int("template_version")?,
        format: r.text("format")?,
        file_name: r.text("file_name")?,
        content_type: r.text("content_type")?,
        size: r.int("size")?,
        file_url: String::new(),
        time_created: r.secs("time_created")?,
        blob_key: r.text("blob_key")?,
    })
}

pub async fn insert_report(ex: &mut impl Exec, r: &Report, now: Micros) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO reports ({REPORT_COLS}) VALUES ("));
    q.bind(r.report_id).push(", ").bind(r.folder_id).push(", ").bind(r.company_id).push(", ").bind(r.user_id);
    q.push(", ").bind(r.report_template_id).push(", ").bind(r.template_name.as_str()).push(", ");
    q.bind(r.template_version).push(", ").bind(r.format.as_str()).push(", ").bind(r.file_name.as_str()).push(", ");
    q.bind(r.content_type.as_str()).push(", ").bind(r.blob_key.as_str()).push(", ").bind(r.size).push(", ");
    q.bind(now).push(")");
    ex.execute(q).await.map(|_| ())
}

pub async fn get_report(ex: &mut impl Exec, id: Uuid) -> Result<Option<Report>> {
    let mut q = Sql::new(&format!("SELECT {REPORT_COLS} FROM reports WHERE report_id = "));
    q.bind(id);
    ex.fetch_optional(q, report_row).await
}

/// A folder's reports, oldest first; only `user`'s when given.
pub async fn list_reports(
    ex: &mut impl Exec,
    folder: Uuid,
    user: Option<Uuid>,
    paging: Paging,
) -> Result<(Vec<Report>, Option<i64>)> {
    let mut w = Sql::new(" WHERE folder_id = ");
    w.bind(folder);
    if let Some(u) = user {
        w.push(" AND user_id = ").bind(u);
    }
    crate::page(ex, "reports", REPORT_COLS, w, "time_created, report_id", paging, report_row).await
}

/// The file keys of a user's reports (removed with the user).
pub async fn report_keys_of_user(ex: &mut impl Exec, user: Uuid) -> Result<Vec<String>> {
    let mut q = Sql::new("SELECT blob_key FROM reports WHERE user_id = ");
    q.bind(user);
    ex.fetch_all(q, |r| r.text("blob_key")).await
}

pub async fn delete_report(ex: &mut impl Exec, id: Uuid) -> Result<()> {
    let mut q = Sql::new("DELETE FROM reports WHERE report_id = ");
    q.bind(id);
    ex.execute(q).await.map(|_| ())
}

/// Removes every report row of a folder (personal-data deletion).
pub async fn delete_of_folder(ex: &mut impl Exec, folder: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM reports WHERE folder_id = ");
    q.bind(folder);
    ex.execute(q).await
}
