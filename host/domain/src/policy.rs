//! Roles and the permission policy of reference §5.
//!
//! Every use-case asks one of these functions before it touches data; list queries get a
//! [`Scope`] so that a caller can never see rows outside what it may read.

use uuid::Uuid;

/// The role a user acts in, derived from `user_type` plus the 5.x flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Operator,
    Client,
    ClientAdmin,
    ClientOperator,
    ClientService,
}

impl Role {
    /// Derives the role from stored fields. `user_type` is one of ADMIN, OPERATOR, CLIENT,
    /// CLIENT_OPERATOR; `is_admin` wins over `is_service` for a CLIENT.
    pub fn derive(user_type: &str, is_admin: bool, is_service: bool) -> Role {
        match user_type {
            "ADMIN" => Role::Admin,
            "OPERATOR" => Role::Operator,
            "CLIENT_OPERATOR" => Role::ClientOperator,
            _ if is_admin => Role::ClientAdmin,
            _ if is_service => Role::ClientService,
            _ => Role::Client,
        }
    }

    /// The role's name as the console and reports show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Operator => "OPERATOR",
            Role::Client => "CLIENT",
            Role::ClientAdmin => "CLIENT ADMIN",
            Role::ClientOperator => "CLIENT OPERATOR",
            Role::ClientService => "CLIENT SERVICE",
        }
    }

    /// ADMIN and OPERATOR belong to the system company and see every company.
    pub fn is_global(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

/// Who calls a use-case that the server itself also runs (bootstrap, built-ins, the CLI). Never
/// an `Option`: a missing user cannot be mistaken for the trusted server, or the reverse.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The operator's own start-up and commands: no policy applies.
    System,
    /// A signed-in user: the policy decides.
    User(&'a Principal),
}

/// Who asks for a file behind a link: a signed-in user, or anybody holding the link. Never
/// trusted: an anonymous visitor gets at most what the link alone allows.
#[derive(Debug, Clone, Copy)]
pub enum Visitor<'a> {
    Anonymous,
    User(&'a Principal),
}

impl<'a> Visitor<'a> {
    pub fn from_token(p: Option<&'a Principal>) -> Visitor<'a> {
        p.map_or(Visitor::Anonymous, Visitor::User)
    }
}

/// Who is calling: resolved from the access token on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub company_id: Uuid,
    pub role: Role,
    pub can_start_analyse_quality: bool,
    pub can_start_analyse_biometry: bool,
    pub can_start_analyse_collection: bool,
    /// The session the request came with (absent for CLI callers).
    pub session_id: Option<Uuid>,
    /// When that session's access token expires, after this request slid it.
    pub session_expires: Option<crate::time::Micros>,
    /// Where the request came from, for the audit log.
    pub origin: Origin,
}

/// The client address and request id of the request a principal acts in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// Which rows a list query may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Company(Uuid),
    Owner(Uuid),
}

/// The owner and tenant of a company-scoped object (folder, media).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owned {
    pub company_id: Uuid,
    pub user_id: Option<Uuid>,
}

impl Principal {
    /// Whoever runs the `vigil` admin commands on the server's machine: acts as ADMIN.
    pub fn console() -> Principal {
        Principal {
            user_id: Uuid::nil(),
            company_id: Uuid::nil(),
            role: Role::Admin,
            can_start_analyse_quality: true,
            can_start_analyse_biometry: true,
            can_start_analyse_collection: true,
            session_id: None,
            session_expires: None,
            origin: Origin::default(),
        }
    }

    fn same_company(&self, company_id: Uuid) -> bool {
        self.company_id == company_id
    }

    fn owns(&self, o: Owned) -> bool {
        o.user_id == Some(self.user_id) && self.same_company(o.company_id)
    }

    // ----- companies -----

    pub fn can_manage_companies(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn company_scope(&self) -> Scope {
        if self.role.is_global() { Scope::All } else { Scope::Company(self.company_id) }
    }

    pub fn can_read_company(&self, company_id: Uuid) -> bool {
        self.role.is_global() || self.same_company(company_id)
    }

    // ----- audit log and event sessions -----

    /// Which audit entries the caller may read: ADMIN every one, CLIENT ADMIN those of its
    /// company's objects, nobody else any.
    pub fn audit_scope(&self) -> Option<Scope> {
        match self.role {
            Role::Admin => Some(Scope::All),
            Role::ClientAdmin => Some(Scope::Company(self.company_id)),
            _ => None,
        }
    }

    /// Which SDK telemetry sessions the caller may read: global roles all, others their company's.
    pub fn event_session_scope(&self) -> Scope {
        self.company_scope()
    }

    // ----- users -----

    pub fn user_scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Operator => Scope::All,
            Role::ClientAdmin | Role::ClientOperator => Scope::Company(self.company_id),
            Role::Client | Role::ClientService => Scope::Owner(self.user_id),
        }
    }

    pub fn can_read_user(&self, user_id: Uuid, company_id: Uuid) -> bool {
        match self.user_scope() {
            Scope::All => true,
            Scope::Company(c) => c == company_id,
            Scope::Owner(u) => u == user_id,
        }
    }

    /// Create, edit, delete a user of `company_id` that will have role `target`.
    pub fn can_manage_user(&self, company_id: Uuid, target: Role) -> bool {
        match self.role {
            Role::Admin => true,
            Role::ClientAdmin => self.same_company(company_id) && !target.is_global(),
            _ => false,
        }
    }

    /// Make `user_type` (stored form: CLIENT, CLIENT_OPERATOR, …) a service account, whose token
    /// lives five years. ADMIN may make any client-side user one; a CLIENT ADMIN only a plain
    /// CLIENT of its company (Oz's CLIENT SERVICE) — not an operator, who reads every folder of
    /// the company, nor an admin.
    pub fn can_grant_service(&self, user_type: &str, is_admin: bool) -> bool {
        match self.role {
            Role::Admin => true,
            Role::ClientAdmin => user_type == "CLIENT" && !is_admin,
            _ => false,
        }
    }

    /// Change the password of `user_id`: oneself always; ADMIN anyone; CLIENT ADMIN within its
    /// company (the 5.2.0 fix), but never an ADMIN's or OPERATOR's.
    pub fn can_change_password(&self, user_id: Uuid, company_id: Uuid, target: Role) -> bool {
        user_id == self.user_id || self.can_manage_user(company_id, target)
    }

    // ----- folders and media -----

    pub fn folder_scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Operator => Scope::All,
            Role::ClientAdmin | Role::ClientOperator => Scope::Company(self.company_id),
            Role::Client | Role::ClientService => Scope::Owner(self.user_id),
        }
    }

    pub fn can_read_folder(&self, o: Owned) -> bool {
        match self.folder_scope() {
            Scope::All => true,
            Scope::Company(c) => c == o.company_id,
            Scope::Owner(_) => self.owns(o),
        }
    }

    /// Creating folders is for the roles that submit work, not for reviewers.
    pub fn can_create_folder(&self) -> bool {
        !matches!(self.role, Role::Operator | Role::ClientOperator)
    }

    /// Edit a folder, add media to it, retag its media.
    pub fn can_write_folder(&self, o: Owned) -> bool {
        match self.role {
            Role::Admin => true,
            Role::ClientAdmin => self.same_company(o.company_id),
            Role::Client | Role::ClientService => self.owns(o),
            Role::Operator | Role::ClientOperator => false,
        }
    }

    /// Delete a folder or a media file ("deletes files in folders" is CLIENT ADMIN's right).
    pub fn can_delete_in_folder(&self, o: Owned) -> bool {
        match self.role {
            Role::Admin => true,
            Role::ClientAdmin => self.same_company(o.company_id),
            _ => false,
        }
    }

    /// Hand a folder to another user (of the folder's company).
    pub fn can_change_folder_owner(&self, o: Owned) -> bool {
        self.can_delete_in_folder(o)
    }

    // ----- collections, persons, person images -----

    /// Read a collection of `company_id` and its persons: ADMIN and OPERATOR everywhere, every
    /// user of the company within it.
    pub fn can_read_collection(&self, company_id: Uuid) -> bool {
        self.role.is_global() || self.same_company(company_id)
    }

    /// Create and delete collections, delete persons and images, edit their metadata: ADMIN, and
    /// CLIENT ADMIN within its company.
    pub fn can_manage_collection(&self, company_id: Uuid) -> bool {
        match self.role {
            Role::Admin => true,
            Role::ClientAdmin => self.same_company(company_id),
            _ => false,
        }
    }

    /// Enroll persons and add their images: the managers, and a service account within its
    /// company (an integration that feeds a watch-list).
    pub fn can_enroll_person(&self, company_id: Uuid) -> bool {
        self.can_manage_collection(company_id) || (self.role == Role::ClientService && self.same_company(company_id))
    }

    // ----- report templates and reports -----

    /// Use and read a template of `company` (`None`: a global one): every user may use the
    /// global ones and its company's; ADMIN and OPERATOR see all.
    pub fn can_use_template(&self, company: Option<Uuid>) -> bool {
        self.role.is_global() || company.is_none_or(|c| self.same_company(c))
    }

    /// Upload, update and delete templates and attachments: ADMIN (global or any company's),
    /// CLIENT ADMIN its company's.
    pub fn can_manage_template(&self, company: Option<Uuid>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::ClientAdmin => company.is_some_and(|c| self.same_company(c)),
            _ => false,
        }
    }

    /// Read a report of a folder the caller can read: CLIENT its own reports, CLIENT SERVICE and
    /// the company roles the company's, ADMIN and OPERATOR all.
    pub fn can_read_report(&self, company: Uuid, requested_by: Option<Uuid>) -> bool {
        match self.role {
            Role::Admin | Role::Operator => true,
            Role::ClientAdmin | Role::ClientOperator | Role::ClientService => self.same_company(company),
            Role::Client => self.same_company(company) && requested_by == Some(self.user_id),
        }
    }

    /// Delete a report: ADMIN, and CLIENT ADMIN within its company.
    pub fn can_delete_report(&self, company: Uuid) -> bool {
        match self.role {
            Role::Admin => true,
            Role::ClientAdmin => self.same_company(company),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_rights_follow_the_changelog() {
        let (c1, c2) = (Uuid::new_v4(), Uuid::new_v4());
        let admin = p(Role::Admin, Uuid::nil());
        assert!(admin.can_manage_template(None) && admin.can_manage_template(Some(c1)) && admin.can_delete_report(c2));
        let ca = p(Role::ClientAdmin, c1);
        assert!(ca.can_manage_template(Some(c1)) && !ca.can_manage_template(Some(c2)) && !ca.can_manage_template(None));
        assert!(ca.can_use_template(None) && !ca.can_use_template(Some(c2)) && ca.can_delete_report(c1));
        let svc = p(Role::ClientService, c1);
        assert!(svc.can_read_report(c1, None) && !svc.can_read_report(c2, None) && !svc.can_delete_report(c1));
        assert!(!svc.can_manage_template(Some(c1)));
        let client = p(Role::Client, c1);
        assert!(client.can_read_report(c1, Some(client.user_id)) && !client.can_read_report(c1, Some(Uuid::new_v4())));
        let op = p(Role::Operator, Uuid::nil());
        assert!(op.can_read_report(c2, None) && op.can_use_template(Some(c2)) && !op.can_delete_report(c2));
    }

    #[test]
    fn collection_rights_follow_the_changelog() {
        let c1 = Uuid::new_v4();
        let c2 = Uuid::new_v4();
        let admin = p(Role::Admin, Uuid::nil());
        assert!(admin.can_manage_collection(c1) && admin.can_read_collection(c2));
        let op = p(Role::Operator, Uuid::nil());
        assert!(op.can_read_collection(c1) && !op.can_manage_collection(c1) && !op.can_enroll_person(c1));
        let ca = p(Role::ClientAdmin, c1);
        assert!(ca.can_manage_collection(c1) && !ca.can_manage_collection(c2) && !ca.can_read_collection(c2));
        let svc = p(Role::ClientService, c1);
        assert!(svc.can_enroll_person(c1) && !svc.can_enroll_person(c2) && !svc.can_manage_collection(c1));
        for r in [Role::Client, Role::ClientOperator] {
            let u = p(r, c1);
            assert!(u.can_read_collection(c1) && !u.can_read_collection(c2));
            assert!(!u.can_enroll_person(c1) && !u.can_manage_collection(c1));
        }
    }

    fn p(role: Role, company: Uuid) -> Principal {
        Principal {
            session_id: None,
            session_expires: None,
            origin: Origin::default(),
            user_id: Uuid::new_v4(),
            company_id: company,
            role,
            can_start_analyse_quality: true,
            can_start_analyse_biometry: true,
            can_start_analyse_collection: true,
        }
    }

    #[test]
    fn roles_from_fields() {
        assert_eq!(Role::derive("ADMIN", false, false), Role::Admin);
        assert_eq!(Role::derive("CLIENT", true, true), Role::ClientAdmin);
        assert_eq!(Role::derive("CLIENT", false, true), Role::ClientService);
        assert_eq!(Role::derive("CLIENT_OPERATOR", false, false), Role::ClientOperator);
        assert_eq!(Role::derive("CLIENT", false, false), Role::Client);
    }

    #[test]
    fn folder_rules() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let client = p(Role::Client, a);
        let own = Owned { company_id: a, user_id: Some(client.user_id) };
        let colleague = Owned { company_id: a, user_id: Some(Uuid::new_v4()) };
        let foreign = Owned { company_id: b, user_id: Some(Uuid::new_v4()) };
        assert!(client.can_read_folder(own) && client.can_write_folder(own));
        assert!(!client.can_read_folder(colleague) && !client.can_delete_in_folder(own));
        let cadmin = p(Role::ClientAdmin, a);
        assert!(cadmin.can_read_folder(colleague) && cadmin.can_delete_in_folder(colleague));
        assert!(!cadmin.can_read_folder(foreign) && !cadmin.can_write_folder(foreign));
        let cop = p(Role::ClientOperator, a);
        assert!(cop.can_read_folder(colleague) && !cop.can_write_folder(colleague));
        assert!(!cop.can_read_folder(foreign) && !cop.can_create_folder());
        let op = p(Role::Operator, b);
        assert!(op.can_read_folder(own) && !op.can_write_folder(own));
        let admin = p(Role::Admin, b);
        assert!(admin.can_delete_in_folder(own));
    }

    #[test]
    fn user_rules() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let cadmin = p(Role::ClientAdmin, a);
        assert!(cadmin.can_manage_user(a, Role::Client));
        assert!(!cadmin.can_manage_user(a, Role::Admin));
        assert!(!cadmin.can_manage_user(b, Role::Client));
        let client = p(Role::Client, a);
        assert!(client.can_change_password(client.user_id, a, Role::Client));
        assert!(!client.can_change_password(Uuid::new_v4(), a, Role::Client));
        assert!(!p(Role::Operator, b).can_manage_companies());
        assert!(cadmin.can_grant_service("CLIENT", false));
        assert!(!cadmin.can_grant_service("CLIENT_OPERATOR", false));
        assert!(!cadmin.can_grant_service("CLIENT", true));
        assert!(p(Role::Admin, b).can_grant_service("CLIENT_OPERATOR", false));
        assert!(p(Role::Admin, b).can_manage_companies());
    }
}
