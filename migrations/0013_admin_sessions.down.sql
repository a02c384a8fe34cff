-- Reverts 0013_admin_sessions: every admin session ends.
BEGIN;
DROP TABLE admin_sessions;
COMMIT;
