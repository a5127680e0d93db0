//! Directory sign-in against a real OpenLDAP `slapd` the test starts and seeds: accounts found by
//! login, groups mapped to roles and companies, local accounts beside them, injection and empty
//! passwords refused, disabled accounts and accounts that left their groups shut out.

use crate::{id, oz_err};
use serde_json::json;
use vigil_tests::ldap::{ADMIN_DN, ADMIN_PASSWORD, SUFFIX, Slapd};
use vigil_tests::*;

fn person(uid: &str, given: &str, sn: &str, password: &str) -> String {
    format!(
        "dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\nuid: {uid}\n\
         cn: {given} {sn}\nsn: {sn}\ngivenName: {given}\nmail: {uid}@corp.test\nuserPassword: {password}\n\n"
    )
}

fn group(cn: &str, members: &[&str]) -> String {
    let mut s = format!("dn: cn={cn},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {cn}\n");
    for m in members {
        s.push_str(&format!("member: uid={m},ou=people,{SUFFIX}\n"));
    }
    s + "\n"
}

fn seed(d: &Slapd) {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Vigil\ndc: vigil\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n"
    );
    for (uid, given, sn) in
        [("ann", "Ann", "Analyst"), ("bob", "Bob", "Reviewer"), ("root", "Rita", "Root"), ("eve", "Eve", "Outsider")]
    {
        ldif.push_str(&person(uid, given, sn, &format!("{uid}-pass-1")));
    }
    ldif.push_str(&group("vigil-admins", &["root"]));
    ldif.push_str(&group("vigil-reviewers", &["bob"]));
    ldif.push_str(&group("vigil-users", &["ann", "bob"]));
    d.modify(&ldif);
}

fn rules() -> String {
    json!([
        {"group": format!("cn=vigil-admins,ou=groups,{SUFFIX}"), "role": "ADMIN"},
        {"group": format!("CN=Vigil-Reviewers, OU=groups, {SUFFIX}"), "role": "CLIENT_OPERATOR", "company": "Acme"},
        {"group": format!("cn=vigil-users,ou=groups,{SUFFIX}"), "role": "CLIENT", "company": "Acme"},
    ])
    .to_string()
}

async fn directory_sign_in(db: Db) {
    let mut d = Slapd::start();
    seed(&d);
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), format!("{ADMIN_PASSWORD}\n")).unwrap();
    let s = Server::builder(db)
        .set("ldap_url", &d.url)
        .set("ldap_bind_dn", ADMIN_DN)
        .set("ldap_bind_password_file", &secret.path().display().to_string())
        .set("ldap_user_base", &format!("ou=people,{SUFFIX}"))
        .set("ldap_groups", &rules())
        .start()
        .await;
    // Local accounts keep working beside the directory.
    let admin = s.admin().await;
    let acme = s.company(&admin, "Acme").await;

    // First sign-in creates the account with the mapped role and company.
    let ann = s.login("ann", "ann-pass-1").await;
    let me = ann.body["user"].clone();
    assert_eq!((me["email"].as_str(), me["user_type"].as_str()), (Some("ann@corp.test"), Some("CLIENT")), "{me}");
    assert_eq!(me["company_id"].as_str(), Some(acme.as_str()));
    assert_eq!((me["first_name"].as_str(), me["last_name"].as_str()), (Some("Ann"), Some("Analyst")));
    let (st, _) =
        s.upload(&ann, "/api/folders/", vec![file("p", "p.jpg", jpeg(32, 32))], Some(crate::photo_payload("p"))).await;
    assert_eq!(st, StatusCode::CREATED, "a directory user works like a local one");
    // By e-mail too, and the same account is used again.
    let again = s.login("ann@corp.test", "ann-pass-1").await;
    assert_eq!(again.body["user"]["user_id"], me["user_id"]);
    let (_, users) = s.get(&admin, "/api/users/?limit=1000").await;
    assert_eq!(crate::ids(&users, "email").iter().filter(|e| *e == "ann@corp.test").count(), 1);
    let msg = oz_err(
        &s.post(
            &admin,
            &format!("/api/users/{}/change-password/", id(&me, "user_id")),
            json!({"new_password": "Local-pass-123"}),
        )
        .await,
        400,
        4,
    );
    assert!(msg.contains("directory"), "{msg}");
    let (_, log) = s.get(&admin, &format!("/api/users/{}/audit_log/", id(&me, "user_id"))).await;
    assert_eq!(log["items"][0]["action"], "create", "{log}");
    assert_eq!(log["items"][0]["changes"]["auth_source"]["new"], "ldap");

    // Roles from groups, first rule first.
    let bob = s.login("bob", "bob-pass-1").await;
    assert_eq!(bob.body["user"]["user_type"], "CLIENT_OPERATOR", "{}", bob.body);
    let root = s.login("root", "root-pass-1").await;
    assert_eq!(root.body["user"]["user_type"], "ADMIN");
    assert_eq!(s.get(&root, "/api/companies/").await.0, StatusCode::OK);

    // Wrong, empty and injected credentials; nobody in a mapped group.
    oz_err(&s.login_raw("ann", "wrong").await, 401, 7);
    oz_err(&s.login_raw("ann", "").await, 401, 7);
    oz_err(&s.login_raw("nobody", "x").await, 401, 7);
    for injected in ["*", "ann)(uid=*", "*)(|(uid=*", "ann*", "a\\2a"] {
        oz_err(&s.login_raw(injected, "ann-pass-1").await, 401, 7);
        oz_err(&s.login_raw(injected, "").await, 401, 7);
    }
    let msg = oz_err(&s.login_raw("eve", "eve-pass-1").await, 403, 9);
    assert!(msg.contains("no group"), "{msg}");
    // A local account with a directory user's e-mail does not let the directory in.
    s.user(&admin, "eve@corp.test", "CLIENT", Some(&acme)).await;
    oz_err(&s.login_raw("eve@corp.test", "eve-pass-1").await, 401, 7);

    // Leaving the mapped groups: no sign-in, and the sessions made before end.
    d.modify(&format!("dn: cn=vigil-users,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=ann,ou=people,{SUFFIX}\n"));
    oz_err(&s.login_raw("ann", "ann-pass-1").await, 403, 9);
    oz_err(&s.get(&ann, "/api/folders/").await, 401, 7);
    // A disabled account (an expired shadow account; AD's ACCOUNTDISABLE works alike).
    d.modify(&format!("dn: uid=bob,ou=people,{SUFFIX}\nchangetype: modify\nreplace: shadowExpire\nshadowExpire: 1\n"));
    oz_err(&s.login_raw("bob", "bob-pass-1").await, 401, 1401);
    oz_err(&s.get(&bob, "/api/folders/").await, 401, 7);
    // Wrong password for a disabled account says "wrong password", not "disabled".
    oz_err(&s.login_raw("bob", "guess").await, 401, 7);
    // A role change in the directory follows at the next sign-in.
    d.modify(&format!(
        "dn: cn=vigil-users,ou=groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: uid=ann,ou=people,{SUFFIX}\n"
    ));
    d.modify(&format!("dn: cn=vigil-reviewers,ou=groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: uid=ann,ou=people,{SUFFIX}\n"));
    let ann = s.login("ann", "ann-pass-1").await;
    assert_eq!(ann.body["user"]["user_type"], "CLIENT_OPERATOR");
    let (_, log) =
        s.get(&admin, &format!("/api/audit_log/?object_id={}&action=directory_sync", id(&me, "user_id"))).await;
    assert_eq!(log["total"], 1, "{log}");

    // Directory down: its users wait, local ones sign in.
    d.stop();
    oz_err(&s.login_raw("ann", "ann-pass-1").await, 502, 11);
    s.admin().await;
}
both_dbs!(directory_sign_in_t, directory_sign_in);
