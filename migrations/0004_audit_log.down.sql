-- Reverts 0004_audit_log. Dropping the table is the one way its rows go.
-- The hash function takes the table's row type, so it goes first.
BEGIN;
DROP FUNCTION rekomi_audit_entry_hash(bytea, audit_log);
DROP TABLE audit_log;
DROP FUNCTION rekomi_audit_log_chain();
DROP FUNCTION rekomi_audit_log_append_only();
COMMIT;
