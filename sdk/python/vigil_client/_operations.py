"""Generated from docs/openapi.json by sdk/generate.py; do not edit by hand."""

# fmt: off


class Operations:
    """One method per API operation. Path parameters are positional; query parameters go in
    `params` (a dict, for names such as `time_created.min`) or as keywords; JSON bodies in
    `body`; uploads take `files` ({field: path or (name, bytes)}) and `payload`."""

    def list_ab_tests(self, params=None, **query):
        """Experiments of the caller's company (ADMIN and OPERATOR: every company's), newest first.

        GET /api/ab_tests"""
        return self._call("GET", "/api/ab_tests", None, params, query)

    def create_ab_test(self, body=None, params=None, **query):
        """Create an experiment (ADMIN: any company, with `company_id`; CLIENT ADMIN: its own). The first variant is the control; `rule` null routes by the variants' weights; the experiment runs at once unless `state` is `draft`. One experiment runs per company and analysis type (409).

        POST /api/ab_tests"""
        return self._call("POST", "/api/ab_tests", body, params, query)

    def get_ab_test(self, ab_test_id, params=None, **query):
        """GET /api/ab_tests/{ab_test_id}"""
        return self._call("GET", f"/api/ab_tests/{ab_test_id}", None, params, query)

    def delete_ab_test(self, ab_test_id, params=None, **query):
        """Delete a draft or stopped experiment; its analyses keep their variant.

        DELETE /api/ab_tests/{ab_test_id}"""
        return self._call("DELETE", f"/api/ab_tests/{ab_test_id}", None, params, query)

    def pause(self, ab_test_id, params=None, **query):
        """Pause a running experiment: new analyses run the type's own plugin until it resumes.

        POST /api/ab_tests/{ab_test_id}/pause"""
        return self._call("POST", f"/api/ab_tests/{ab_test_id}/pause", None, params, query)

    def resume(self, ab_test_id, params=None, **query):
        """Start a draft or resume a paused experiment (409 when another runs for the same type).

        POST /api/ab_tests/{ab_test_id}/resume"""
        return self._call("POST", f"/api/ab_tests/{ab_test_id}/resume", None, params, query)

    def ab_test_stats(self, ab_test_id, params=None, **query):
        """Per-variant statistics summed from the analyses in the database: counts, verdict rates, score and latency quantiles, operator agreement, shadow disagreement, and each variant's decline rate against the control with a 95 % interval and a p-value.

        GET /api/ab_tests/{ab_test_id}/stats"""
        return self._call("GET", f"/api/ab_tests/{ab_test_id}/stats", None, params, query)

    def stop(self, ab_test_id, params=None, **query):
        """Stop an experiment for good; its statistics stay readable.

        POST /api/ab_tests/{ab_test_id}/stop"""
        return self._call("POST", f"/api/ab_tests/{ab_test_id}/stop", None, params, query)

    def list_analyses(self, params=None, **query):
        """Analyses of every folder the caller may read. Lists take comma-separated values; `state` also matches verdicts, as old clients send them there.

        GET /api/analyses"""
        return self._call("GET", "/api/analyses", None, params, query)

    def get_analysis(self, analyse_id, params=None, **query):
        """GET /api/analyses/{analyse_id}"""
        return self._call("GET", f"/api/analyses/{analyse_id}", None, params, query)

    def decide_analysis(self, analyse_id, body=None, params=None, **query):
        """"Make Decision": an OPERATOR, or a CLIENT OPERATOR or CLIENT ADMIN of the analysis's company, sets the verdict (SUCCESS or DECLINED) of a finished analysis; the folder verdict follows. ADMIN may not.

        PATCH /api/analyses/{analyse_id}"""
        return self._call("PATCH", f"/api/analyses/{analyse_id}", body, params, query)

    def delete_analysis(self, analyse_id, params=None, **query):
        """Delete one analysis and its output images (CLIENT ADMIN of its company, ADMIN).

        DELETE /api/analyses/{analyse_id}"""
        return self._call("DELETE", f"/api/analyses/{analyse_id}", None, params, query)

    def get_analysis_meta_data(self, id, params=None, **query):
        """GET /api/analyses/{id}/meta_data"""
        return self._call("GET", f"/api/analyses/{id}/meta_data", None, params, query)

    def replace_analysis_meta_data(self, id, body=None, params=None, **query):
        """Replace the metadata with the body (a JSON object).

        POST /api/analyses/{id}/meta_data"""
        return self._call("POST", f"/api/analyses/{id}/meta_data", body, params, query)

    def merge_analysis_meta_data(self, id, body=None, params=None, **query):
        """Merge the body's top-level keys into the metadata.

        PATCH /api/analyses/{id}/meta_data"""
        return self._call("PATCH", f"/api/analyses/{id}/meta_data", body, params, query)

    def clear_analysis_meta_data(self, id, params=None, **query):
        """Empty the metadata.

        DELETE /api/analyses/{id}/meta_data"""
        return self._call("DELETE", f"/api/analyses/{id}/meta_data", None, params, query)

    def list_audit_log(self, params=None, **query):
        """Who changed what and when: every create, update and delete of folders (with their media, analyses, decisions and personal-data deletions), users (passwords, blocking, roles, sessions), companies (webhooks, plugins), collections and report templates. ADMIN reads every entry, CLIENT ADMIN those of its company's objects; nobody can edit or delete one.

        GET /api/audit_log"""
        return self._call("GET", "/api/audit_log", None, params, query)

    def login(self, body=None, params=None, **query):
        """Log in with e-mail and password; returns the token pair.

        POST /api/authorize/auth"""
        return self._call("POST", "/api/authorize/auth", body, params, query)

    def auth_restore(self, body=None, params=None, **query):
        """Password restore. Step one, `{"email": …}`: a one-time token valid for `restore_ttl` is sent to the company's webhook (event `user.password_restore`) or issued by an operator with `vigil user restore-token`; the answer is the same whether the account exists or not. Step two, `{"token": …, "new_password": …}`: sets the password and ends every session of the user.

        POST /api/authorize/auth_restore"""
        return self._call("POST", "/api/authorize/auth_restore", body, params, query)

    def refresh(self, body=None, params=None, **query):
        """Rotate the token pair. The old pair keeps working until the new one is used once.

        POST /api/authorize/refresh"""
        return self._call("POST", "/api/authorize/refresh", body, params, query)

    def list_collections(self, params=None, **query):
        """GET /api/collections"""
        return self._call("GET", "/api/collections", None, params, query)

    def create_collection(self, body=None, params=None, **query):
        """Create a collection (ADMIN with `company_id`; CLIENT ADMIN in its company). It is bound to the company's embedding model of the moment.

        POST /api/collections"""
        return self._call("POST", "/api/collections", body, params, query)

    def get_collection(self, collection_id, params=None, **query):
        """GET /api/collections/{collection_id}"""
        return self._call("GET", f"/api/collections/{collection_id}", None, params, query)

    def delete_collection(self, collection_id, params=None, **query):
        """Delete a collection with its persons, images and files; refused (409) while COLLECTION analyses refer to it.

        DELETE /api/collections/{collection_id}"""
        return self._call("DELETE", f"/api/collections/{collection_id}", None, params, query)

    def get_collection_meta(self, collection_id, params=None, **query):
        """GET /api/collections/{collection_id}/meta_data"""
        return self._call("GET", f"/api/collections/{collection_id}/meta_data", None, params, query)

    def replace_collection_meta(self, collection_id, body=None, params=None, **query):
        """Replace the collection's metadata (ADMIN, CLIENT ADMIN).

        POST /api/collections/{collection_id}/meta_data"""
        return self._call("POST", f"/api/collections/{collection_id}/meta_data", body, params, query)

    def merge_collection_meta(self, collection_id, body=None, params=None, **query):
        """Merge the body's top-level keys into the collection's metadata.

        PATCH /api/collections/{collection_id}/meta_data"""
        return self._call("PATCH", f"/api/collections/{collection_id}/meta_data", body, params, query)

    def clear_collection_meta(self, collection_id, params=None, **query):
        """DELETE /api/collections/{collection_id}/meta_data"""
        return self._call("DELETE", f"/api/collections/{collection_id}/meta_data", None, params, query)

    def list_persons(self, collection_id, params=None, **query):
        """GET /api/collections/{collection_id}/persons"""
        return self._call("GET", f"/api/collections/{collection_id}/persons", None, params, query)

    def create_person(self, collection_id, files=None, payload=None, fields=None, params=None, **query):
        """Enrol a person: image files (one face each) plus a `payload` part with `media:tags` and `person:meta_data` (`person_info`: `first_name`, `middle_name`, `last_name`). An image with no face or several is refused, naming the image, and nothing of the request is kept.

        POST /api/collections/{collection_id}/persons"""
        return self._upload("POST", f"/api/collections/{collection_id}/persons", files, payload, fields, params, query)

    def get_person(self, collection_id, person_id, params=None, **query):
        """GET /api/collections/{collection_id}/persons/{person_id}"""
        return self._call("GET", f"/api/collections/{collection_id}/persons/{person_id}", None, params, query)

    def delete_person(self, collection_id, person_id, params=None, **query):
        """Delete a person with its images and files; refused (409) while COLLECTION analyses found it.

        DELETE /api/collections/{collection_id}/persons/{person_id}"""
        return self._call("DELETE", f"/api/collections/{collection_id}/persons/{person_id}", None, params, query)

    def list_images(self, collection_id, person_id, params=None, **query):
        """GET /api/collections/{collection_id}/persons/{person_id}/images"""
        return self._call("GET", f"/api/collections/{collection_id}/persons/{person_id}/images", None, params, query)

    def add_images(self, collection_id, person_id, files=None, payload=None, fields=None, params=None, **query):
        """Add photos of a person (the same multipart form as enrolment); answers with the person and all its images.

        POST /api/collections/{collection_id}/persons/{person_id}/images"""
        return self._upload("POST", f"/api/collections/{collection_id}/persons/{person_id}/images", files, payload, fields, params, query)

    def delete_image(self, collection_id, person_id, person_image_id, params=None, **query):
        """DELETE /api/collections/{collection_id}/persons/{person_id}/images/{person_image_id}"""
        return self._call("DELETE", f"/api/collections/{collection_id}/persons/{person_id}/images/{person_image_id}", None, params, query)

    def get_person_meta(self, collection_id, person_id, params=None, **query):
        """GET /api/collections/{collection_id}/persons/{person_id}/meta_data"""
        return self._call("GET", f"/api/collections/{collection_id}/persons/{person_id}/meta_data", None, params, query)

    def replace_person_meta(self, collection_id, person_id, body=None, params=None, **query):
        """Replace the person's metadata (ADMIN, CLIENT ADMIN).

        POST /api/collections/{collection_id}/persons/{person_id}/meta_data"""
        return self._call("POST", f"/api/collections/{collection_id}/persons/{person_id}/meta_data", body, params, query)

    def merge_person_meta(self, collection_id, person_id, body=None, params=None, **query):
        """Merge the body's top-level keys into the person's metadata.

        PATCH /api/collections/{collection_id}/persons/{person_id}/meta_data"""
        return self._call("PATCH", f"/api/collections/{collection_id}/persons/{person_id}/meta_data", body, params, query)

    def clear_person_meta(self, collection_id, person_id, params=None, **query):
        """DELETE /api/collections/{collection_id}/persons/{person_id}/meta_data"""
        return self._call("DELETE", f"/api/collections/{collection_id}/persons/{person_id}/meta_data", None, params, query)

    def list_companies(self, params=None, **query):
        """GET /api/companies"""
        return self._call("GET", "/api/companies", None, params, query)

    def create_company(self, body=None, params=None, **query):
        """Create a company (ADMIN only).

        POST /api/companies"""
        return self._call("POST", "/api/companies", body, params, query)

    def get_company(self, company_id, params=None, **query):
        """GET /api/companies/{company_id}"""
        return self._call("GET", f"/api/companies/{company_id}", None, params, query)

    def patch_company(self, company_id, body=None, params=None, **query):
        """PATCH /api/companies/{company_id}"""
        return self._call("PATCH", f"/api/companies/{company_id}", body, params, query)

    def delete_company(self, company_id, params=None, **query):
        """Delete a company with its users, folders and files (ADMIN only).

        DELETE /api/companies/{company_id}"""
        return self._call("DELETE", f"/api/companies/{company_id}", None, params, query)

    def company_audit_log(self, company_id, params=None, **query):
        """Every entry about a company's objects (kept after the company is deleted).

        GET /api/companies/{company_id}/audit_log"""
        return self._call("GET", f"/api/companies/{company_id}/audit_log", None, params, query)

    def get_webhook(self, company_id, params=None, **query):
        """The company's default webhook (ADMIN, CLIENT ADMIN of the company). The secret is never shown.

        GET /api/companies/{company_id}/webhook"""
        return self._call("GET", f"/api/companies/{company_id}/webhook", None, params, query)

    def put_webhook(self, company_id, body=None, params=None, **query):
        """Set (or, with `"url": null`, remove) the URL every finished analysis of the company is POSTed to, and the secret deliveries are signed with.

        PUT /api/companies/{company_id}/webhook"""
        return self._call("PUT", f"/api/companies/{company_id}/webhook", body, params, query)

    def config(self, params=None, **query):
        """Public settings: the server's timezone and the limits a client should respect.

        GET /api/config"""
        return self._call("GET", "/api/config", None, params, query)

    def list_event_sessions(self, params=None, **query):
        """SDK telemetry sessions of the caller's company (ADMIN and OPERATOR: all), with the 5.2 filters.

        GET /api/event_sessions"""
        return self._call("GET", "/api/event_sessions", None, params, query)

    def ingest_events(self, body=None, params=None, **query):
        """Uploads a batch of SDK events. Idempotent per session id: the first batch creates the session (201), later ones add the events it does not hold yet (200); a repeated batch changes nothing.

        POST /api/event_sessions"""
        return self._call("POST", "/api/event_sessions", body, params, query)

    def list_folders(self, params=None, **query):
        """Folders visible to the caller.

        GET /api/folders"""
        return self._call("GET", "/api/folders", None, params, query)

    def create_folder(self, files=None, payload=None, fields=None, params=None, **query):
        """Create a folder, optionally with media: file parts under any field names plus a `payload` part (`media:tags`, `folder:meta_data`, `media:meta_data`). Files sent without a payload get tags by field name and type (`photo_selfie`; `video_selfie` + `video_selfie_blank`). A body that is not multipart creates an empty folder, with a JSON body read as the payload.

        POST /api/folders"""
        return self._upload("POST", "/api/folders", files, payload, fields, params, query)

    def get_folder(self, folder_id, params=None, **query):
        """GET /api/folders/{folder_id}"""
        return self._call("GET", f"/api/folders/{folder_id}", None, params, query)

    def patch_folder(self, folder_id, body=None, params=None, **query):
        """Edit a folder: metadata, owner (`user_id`), operator status and comment.

        PATCH /api/folders/{folder_id}"""
        return self._call("PATCH", f"/api/folders/{folder_id}", body, params, query)

    def delete_folder(self, folder_id, params=None, **query):
        """Delete a folder with its media (ADMIN, CLIENT ADMIN of its company).

        DELETE /api/folders/{folder_id}"""
        return self._call("DELETE", f"/api/folders/{folder_id}", None, params, query)

    def list_folder_analyses(self, folder_id, params=None, **query):
        """Analyses of one folder, with the filters of `GET /api/analyses/`.

        GET /api/folders/{folder_id}/analyses"""
        return self._call("GET", f"/api/folders/{folder_id}/analyses", None, params, query)

    def request_analyses(self, folder_id, body=None, params=None, **query):
        """Start analyses on a folder. Answers at once with the created analyses in PROCESSING; poll `GET /api/analyses/{id}` (or take the webhook) for the verdict.

        POST /api/folders/{folder_id}/analyses"""
        return self._call("POST", f"/api/folders/{folder_id}/analyses", body, params, query)

    def folder_audit_log(self, folder_id, params=None, **query):
        """The history of a folder, its media, analyses and reports (same filters as the log).

        GET /api/folders/{folder_id}/audit_log"""
        return self._call("GET", f"/api/folders/{folder_id}/audit_log", None, params, query)

    def delete_pi_legacy(self, folder_id, params=None, **query):
        """The older form of `DELETE /api/folders/{folder_id}/pi/`; answers the cleaned folder.

        POST /api/folders/{folder_id}/delete_pi"""
        return self._call("POST", f"/api/folders/{folder_id}/delete_pi", None, params, query)

    def list_folder_media(self, folder_id, params=None, **query):
        """The media of a folder, in upload order.

        GET /api/folders/{folder_id}/media"""
        return self._call("GET", f"/api/folders/{folder_id}/media", None, params, query)

    def add_media(self, folder_id, files=None, payload=None, fields=None, params=None, **query):
        """Add media to a folder; returns the created media as an array.

        POST /api/folders/{folder_id}/media"""
        return self._upload("POST", f"/api/folders/{folder_id}/media", files, payload, fields, params, query)

    def delete_pi(self, folder_id, params=None, **query):
        """Deletes the folder's personal data (GDPR Art. 17): every media file, thumbnail, preview, snapshot, best shot and report, the media rows and metadata, the personal parts of the analyses' results; the folder and its analyses' verdicts and scores stay, and the folder accepts no media afterwards. Who may: as for deleting the folder. Safe to repeat.

        DELETE /api/folders/{folder_id}/pi"""
        return self._call("DELETE", f"/api/folders/{folder_id}/pi", None, params, query)

    def list_reports(self, folder_id, params=None, **query):
        """GET /api/folders/{folder_id}/reports"""
        return self._call("GET", f"/api/folders/{folder_id}/reports", None, params, query)

    def create_report(self, folder_id, body=None, params=None, **query):
        """Generate a report of the folder (body optional: `report_template_id`, `format` `pdf` or `html`). Without a template id: the company's default template, else the built-in one.

        POST /api/folders/{folder_id}/reports"""
        return self._call("POST", f"/api/folders/{folder_id}/reports", body, params, query)

    def get_report(self, folder_id, report_id, params=None, **query):
        """GET /api/folders/{folder_id}/reports/{report_id}"""
        return self._call("GET", f"/api/folders/{folder_id}/reports/{report_id}", None, params, query)

    def delete_report(self, folder_id, report_id, params=None, **query):
        """DELETE /api/folders/{folder_id}/reports/{report_id}"""
        return self._call("DELETE", f"/api/folders/{folder_id}/reports/{report_id}", None, params, query)

    def report_file(self, folder_id, report_id, params=None, **query):
        """The report file (PDF or a self-contained HTML page), as `file_url` links it.

        GET /api/folders/{folder_id}/reports/{report_id}/file"""
        return self._call("GET", f"/api/folders/{folder_id}/reports/{report_id}/file", None, params, query)

    def get_folder_meta_data(self, id, params=None, **query):
        """GET /api/folders/{id}/meta_data"""
        return self._call("GET", f"/api/folders/{id}/meta_data", None, params, query)

    def replace_folder_meta_data(self, id, body=None, params=None, **query):
        """Replace the metadata with the body (a JSON object).

        POST /api/folders/{id}/meta_data"""
        return self._call("POST", f"/api/folders/{id}/meta_data", body, params, query)

    def merge_folder_meta_data(self, id, body=None, params=None, **query):
        """Merge the body's top-level keys into the metadata.

        PATCH /api/folders/{id}/meta_data"""
        return self._call("PATCH", f"/api/folders/{id}/meta_data", body, params, query)

    def clear_folder_meta_data(self, id, params=None, **query):
        """Empty the metadata.

        DELETE /api/folders/{id}/meta_data"""
        return self._call("DELETE", f"/api/folders/{id}/meta_data", None, params, query)

    def healthcheck(self, params=None, **query):
        """The database and blob storage both answer (200) or not (503).

        GET /api/healthcheck"""
        return self._call("GET", "/api/healthcheck", None, params, query)

    def job_stats(self, params=None, **query):
        """The job queue of the deployment (analyses and webhook deliveries) by state; ADMIN and OPERATOR.

        GET /api/jobs/stats"""
        return self._call("GET", "/api/jobs/stats", None, params, query)

    def get_media_meta_data(self, id, params=None, **query):
        """GET /api/media/{id}/meta_data"""
        return self._call("GET", f"/api/media/{id}/meta_data", None, params, query)

    def replace_media_meta_data(self, id, body=None, params=None, **query):
        """Replace the metadata with the body (a JSON object).

        POST /api/media/{id}/meta_data"""
        return self._call("POST", f"/api/media/{id}/meta_data", body, params, query)

    def merge_media_meta_data(self, id, body=None, params=None, **query):
        """Merge the body's top-level keys into the metadata.

        PATCH /api/media/{id}/meta_data"""
        return self._call("PATCH", f"/api/media/{id}/meta_data", body, params, query)

    def clear_media_meta_data(self, id, params=None, **query):
        """Empty the metadata.

        DELETE /api/media/{id}/meta_data"""
        return self._call("DELETE", f"/api/media/{id}/meta_data", None, params, query)

    def get_media(self, media_id, params=None, **query):
        """GET /api/media/{media_id}"""
        return self._call("GET", f"/api/media/{media_id}", None, params, query)

    def patch_media(self, media_id, body=None, params=None, **query):
        """Replace the tag list of a media.

        PATCH /api/media/{media_id}"""
        return self._call("PATCH", f"/api/media/{media_id}", body, params, query)

    def delete_media(self, media_id, params=None, **query):
        """Remove a file from its folder (ADMIN, CLIENT ADMIN of its company).

        DELETE /api/media/{media_id}"""
        return self._call("DELETE", f"/api/media/{media_id}", None, params, query)

    def get_snapshot(self, media_id, params=None, **query):
        """The media's still as a JPEG: the photo itself, or the first frame of a video or shots set (made on first request and kept).

        GET /api/media/{media_id}/snapshot"""
        return self._call("GET", f"/api/media/{media_id}/snapshot", None, params, query)

    def post_snapshot(self, media_id, body=None, params=None, **query):
        """Make the still again, optionally at `time` seconds of a video or at frame `frame` of a shots set; the body may be empty. Answers with the new still.

        POST /api/media/{media_id}/snapshot"""
        return self._call("POST", f"/api/media/{media_id}/snapshot", body, params, query)

    def list_plugins(self, params=None, **query):
        """Plugins visible to the caller: its company's and the global built-ins (all, for ADMIN and OPERATOR).

        GET /api/plugins"""
        return self._call("GET", "/api/plugins", None, params, query)

    def upload_plugin(self, files=None, payload=None, fields=None, params=None, **query):
        """Install a plugin version: a multipart body with the component (any file part) and a `manifest` JSON part `{kind, name, version, config?, activate?, company_id?}`. The component is validated against its world and compiled before anything is stored.

        POST /api/plugins"""
        return self._upload("POST", "/api/plugins", files, payload, fields, params, query)

    def get_plugin(self, plugin_id, params=None, **query):
        """GET /api/plugins/{plugin_id}"""
        return self._call("GET", f"/api/plugins/{plugin_id}", None, params, query)

    def delete_plugin(self, plugin_id, params=None, **query):
        """Remove a plugin version (deactivating it first if it is active).

        DELETE /api/plugins/{plugin_id}"""
        return self._call("DELETE", f"/api/plugins/{plugin_id}", None, params, query)

    def activate(self, plugin_id, params=None, **query):
        """Make this version the active one, without a restart; activating an older version is a rollback.

        POST /api/plugins/{plugin_id}/activate"""
        return self._call("POST", f"/api/plugins/{plugin_id}/activate", None, params, query)

    def deactivate(self, plugin_id, params=None, **query):
        """POST /api/plugins/{plugin_id}/deactivate"""
        return self._call("POST", f"/api/plugins/{plugin_id}/deactivate", None, params, query)

    def run(self, plugin_id, body=None, params=None, **query):
        """Dry-run an analysis plugin version over a folder's media (ADMIN, CLIENT ADMIN): answers with `result` or `error` (kind: deadline, trap, limit, output, busy, or the plugin's own); nothing is stored.

        POST /api/plugins/{plugin_id}/run"""
        return self._call("POST", f"/api/plugins/{plugin_id}/run", body, params, query)

    def list_templates(self, params=None, **query):
        """GET /api/report_templates"""
        return self._call("GET", "/api/report_templates", None, params, query)

    def create_template(self, files=None, payload=None, fields=None, params=None, **query):
        """Upload a template: a `template` file part (`.typ` minijinja producing Typst for PDF, `.html` minijinja producing HTML, or a `.wasm` report-template component), further file parts as attachments (referred to as `attachments/<file name>`), and a `payload` part with `name`, `is_default` (default true), `meta_data`, and for ADMIN `company_id` (absent: global).

        POST /api/report_templates"""
        return self._upload("POST", "/api/report_templates", files, payload, fields, params, query)

    def get_template(self, report_template_id, params=None, **query):
        """GET /api/report_templates/{report_template_id}"""
        return self._call("GET", f"/api/report_templates/{report_template_id}", None, params, query)

    def replace_template(self, report_template_id, files=None, payload=None, fields=None, params=None, **query):
        """A new version (same parts as the upload, all optional): the next report uses it.

        PUT /api/report_templates/{report_template_id}"""
        return self._upload("PUT", f"/api/report_templates/{report_template_id}", files, payload, fields, params, query)

    def update_template(self, report_template_id, files=None, payload=None, fields=None, params=None, **query):
        """As `PUT`.

        PATCH /api/report_templates/{report_template_id}"""
        return self._upload("PATCH", f"/api/report_templates/{report_template_id}", files, payload, fields, params, query)

    def delete_template(self, report_template_id, params=None, **query):
        """DELETE /api/report_templates/{report_template_id}"""
        return self._call("DELETE", f"/api/report_templates/{report_template_id}", None, params, query)

    def list_attachments(self, report_template_id, params=None, **query):
        """GET /api/report_templates/{report_template_id}/attachments"""
        return self._call("GET", f"/api/report_templates/{report_template_id}/attachments", None, params, query)

    def add_attachments(self, report_template_id, files=None, payload=None, fields=None, params=None, **query):
        """Add attachments (file parts, named by their file names; a name already present is replaced).

        POST /api/report_templates/{report_template_id}/attachments"""
        return self._upload("POST", f"/api/report_templates/{report_template_id}/attachments", files, payload, fields, params, query)

    def delete_attachment(self, report_template_id, attachment_id, params=None, **query):
        """DELETE /api/report_templates/{report_template_id}/attachments/{attachment_id}"""
        return self._call("DELETE", f"/api/report_templates/{report_template_id}/attachments/{attachment_id}", None, params, query)

    def list_users(self, params=None, **query):
        """Users visible to the caller: all (ADMIN, OPERATOR), the company's (CLIENT ADMIN, CLIENT OPERATOR) or oneself.

        GET /api/users"""
        return self._call("GET", "/api/users", None, params, query)

    def create_user(self, body=None, params=None, **query):
        """Create a user (ADMIN anywhere; CLIENT ADMIN within its company, never ADMIN/OPERATOR).

        POST /api/users"""
        return self._call("POST", "/api/users", body, params, query)

    def get_user_meta_data(self, id, params=None, **query):
        """GET /api/users/{id}/meta_data"""
        return self._call("GET", f"/api/users/{id}/meta_data", None, params, query)

    def replace_user_meta_data(self, id, body=None, params=None, **query):
        """Replace the metadata with the body (a JSON object).

        POST /api/users/{id}/meta_data"""
        return self._call("POST", f"/api/users/{id}/meta_data", body, params, query)

    def merge_user_meta_data(self, id, body=None, params=None, **query):
        """Merge the body's top-level keys into the metadata.

        PATCH /api/users/{id}/meta_data"""
        return self._call("PATCH", f"/api/users/{id}/meta_data", body, params, query)

    def clear_user_meta_data(self, id, params=None, **query):
        """Empty the metadata.

        DELETE /api/users/{id}/meta_data"""
        return self._call("DELETE", f"/api/users/{id}/meta_data", None, params, query)

    def get_user(self, user_id, params=None, **query):
        """GET /api/users/{user_id}"""
        return self._call("GET", f"/api/users/{user_id}", None, params, query)

    def patch_user(self, user_id, body=None, params=None, **query):
        """Edit a user; `is_active: false` blocks it (error 1401 on its every call).

        PATCH /api/users/{user_id}"""
        return self._call("PATCH", f"/api/users/{user_id}", body, params, query)

    def delete_user(self, user_id, params=None, **query):
        """DELETE /api/users/{user_id}"""
        return self._call("DELETE", f"/api/users/{user_id}", None, params, query)

    def user_audit_log(self, user_id, params=None, **query):
        """The history of a user account.

        GET /api/users/{user_id}/audit_log"""
        return self._call("GET", f"/api/users/{user_id}/audit_log", None, params, query)

    def change_password(self, user_id, body=None, params=None, **query):
        """Change a password: one's own (with `old_password`), or as ADMIN / CLIENT ADMIN of the company.

        POST /api/users/{user_id}/change-password"""
        return self._call("POST", f"/api/users/{user_id}/change-password", body, params, query)

    def list_sessions(self, user_id, params=None, **query):
        """A user's sessions, newest first: when made and last used, from which address and user agent, and which is the caller's own. Oneself; any user for ADMIN; the company's users for CLIENT ADMIN.

        GET /api/users/{user_id}/sessions"""
        return self._call("GET", f"/api/users/{user_id}/sessions", None, params, query)

    def revoke_sessions(self, user_id, params=None, **query):
        """Ends every session of the user; when users end their own, the session making the call stays.

        DELETE /api/users/{user_id}/sessions"""
        return self._call("DELETE", f"/api/users/{user_id}/sessions", None, params, query)

    def revoke_session(self, user_id, session_id, params=None, **query):
        """Ends one session: its access and refresh tokens stop working.

        DELETE /api/users/{user_id}/sessions/{session_id}"""
        return self._call("DELETE", f"/api/users/{user_id}/sessions/{session_id}", None, params, query)

    def list_deliveries(self, params=None, **query):
        """Webhook delivery attempts, newest first: of one analysis (`analyse_id`), or of the caller's company (company admins; ADMIN sees all).

        GET /api/webhook_deliveries"""
        return self._call("GET", "/api/webhook_deliveries", None, params, query)

    def person_image_file(self, collection_id, file, params=None, **query):
        """A person image (`{person_image_id}.{ext}`), as linked from `original_url`; the caller must be able to read the collection.

        GET /static/collections/{collection_id}/{file}"""
        return self._call("GET", f"/static/collections/{collection_id}/{file}", None, params, query)

    def media_file(self, folder_id, file, params=None, **query):
        """A media file (`{media_id}.{ext}`), its thumbnail (`{media_id}_thumb.jpg`) or a shots set's MP4 preview (`{media_id}_preview.mp4`), as linked from `original_url` / `thumb_url` / `video_url`. With `OZ_USE_PERMISSIONS_FOR_STATIC` on, the caller's token (header or `?access_token=`) must grant read access to the folder.

        GET /static/{folder_id}/{file}"""
        return self._call("GET", f"/static/{folder_id}/{file}", None, params, query)
