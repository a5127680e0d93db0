//! A throw-away OpenLDAP `slapd` (Debian's `slapd` and `ldap-utils`) for directory sign-in tests:
//! started on a free loopback port with its own database, seeded and changed with `ldapadd` and
//! `ldapmodify` as an administrator would, stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub const SUFFIX: &str = "dc=vigil,dc=test";
pub const ADMIN_DN: &str = "cn=admin,dc=vigil,dc=test";
pub const ADMIN_PASSWORD: &str = "directory-admin-secret";

pub struct Slapd {
    pub url: String,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn slapd_bin() -> PathBuf {
    for p in ["/usr/sbin/slapd", "/usr/local/libexec/slapd"] {
        if std::path::Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("slapd not found: install the Debian packages slapd and ldap-utils (.ci/setup does)")
}

impl Slapd {
    /// Starts an empty directory under [`SUFFIX`] with the memberOf overlay (as Active Directory
    /// keeps `memberOf`), and the schemas for people, groups and shadow accounts.
    pub fn start() -> Slapd {
        let mut dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        let conf = dir.path().join("slapd.conf");
        let text = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/nis.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload memberof\n\
             pidfile {}/slapd.pid\ndatabase mdb\nmaxsize 10485760\nsuffix \"{SUFFIX}\"\n\
             rootdn \"{ADMIN_DN}\"\nrootpw {ADMIN_PASSWORD}\ndirectory {}\noverlay memberof\n",
            dir.path().display(),
            db.display()
        );
        std::fs::write(&conf, text).expect("slapd.conf");
        for _ in 0..5 {
            let url = format!("ldap://127.0.0.1:{}/", free_port());
            // `-d 0`: stay in the foreground (a child we can stop) without debug output.
            let child = Command::new(slapd_bin())
                .arg("-f")
                .arg(&conf)
                .args(["-h", &url, "-d", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start slapd");
            let mut s = Slapd { url, child: Some(child), dir };
            for _ in 0..100 {
                if s.whoami(ADMIN_DN, ADMIN_PASSWORD) {
                    return s;
                }
                if s.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            // The port was taken meanwhile, or slapd was slow: try another.
            s.stop();
            dir = std::mem::replace(&mut s.dir, tempfile::tempdir().expect("tempdir"));
        }
        panic!("slapd did not start")
    }

    /// Whether `dn` binds with `password` (`ldapwhoami`).
    pub fn whoami(&self, dn: &str, password: &str) -> bool {
        Command::new("ldapwhoami")
            .args(["-x", "-H", &self.url, "-D", dn, "-w", password])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Applies LDIF change records as the directory administrator (`ldapmodify -a`).
    pub fn modify(&self, ldif: &str) {
        let path = self.dir.path().join("change.ldif");
        std::fs::write(&path, ldif).expect("ldif");
        let out = Command::new("ldapmodify")
            .args(["-a", "-x", "-H", &self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-f"])
            .arg(&path)
            .output()
            .expect("ldapmodify");
        assert!(out.status.success(), "ldapmodify failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops the server (the directory becomes unavailable).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
