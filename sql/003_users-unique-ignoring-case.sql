-- Up Migration
-- Usernames and emails are unique regardless of letter case: 'JSilva' cannot be
-- registered beside 'jsilva', nor 'Joao.Silva@empresa.com' beside
-- 'joao.silva@empresa.com'. Values are stored as given; only the comparison
-- ignores case. The column constraints of 001 stay: they still catch exact
-- duplicates, and the API maps either index to the same 409.
-- On a database that already holds two rows differing only in case, this
-- migration fails (and the service keeps retrying it) until one is changed.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Down Migration
DROP INDEX IF EXISTS users_email_lower_key;
DROP INDEX IF EXISTS users_username_lower_key;
