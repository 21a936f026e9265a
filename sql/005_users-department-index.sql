-- Up Migration
-- no transaction
-- GET /users?department= in id order, a page at a time, from an index in that
-- order. Built CONCURRENTLY, so writes go on while it builds (on a big table,
-- minutes); that cannot run in a transaction, hence the marker above (see
-- lib/migrations.ts). A build that was interrupted leaves an invalid index of
-- this name behind, which IF NOT EXISTS would keep: it is dropped first. (The
-- migration is not recorded yet, so an index of this name can only be what an
-- earlier attempt left; at worst a finished one, built again.)
DROP INDEX CONCURRENTLY IF EXISTS users_department_id_idx;
CREATE INDEX CONCURRENTLY users_department_id_idx ON users (department, id);

-- Down Migration
-- no transaction
DROP INDEX CONCURRENTLY IF EXISTS users_department_id_idx;
