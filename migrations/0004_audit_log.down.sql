-- Reverts 0004_audit_log. Dropping the table is the one way its rows go.
BEGIN;
DROP TABLE audit_log;
DROP FUNCTION rekomi_audit_log_append_only();
COMMIT;
