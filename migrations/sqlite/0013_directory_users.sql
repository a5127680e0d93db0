-- Directory sign-in (issue #17): where an account's password is checked. 'local': the stored
-- hash; 'ldap': the directory, with the account's DN there.
ALTER TABLE users ADD COLUMN auth_source TEXT NOT NULL DEFAULT 'local';
ALTER TABLE users ADD COLUMN directory_dn TEXT;
