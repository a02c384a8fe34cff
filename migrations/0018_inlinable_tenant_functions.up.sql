-- The two functions every policy reads its key through run without a SET
-- search_path clause: a function with one cannot be inlined and costs a
-- configuration save and restore at each call, which made forced row-level
-- security measurably slower than an explicit org_id filter. Their bodies
-- instead name everything they use with its schema, the comparison
-- operator included, so no caller's search_path can change what they mean.
-- Every other function of the schema keeps search_path = pg_catalog, pg_temp.
BEGIN;

CREATE OR REPLACE FUNCTION public.rekomi_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN pg_catalog.current_setting('rekomi.org_id', true) OPERATOR(pg_catalog.<>) '' THEN pg_catalog.current_setting('rekomi.org_id', true)::pg_catalog.uuid END $$;
ALTER FUNCTION public.rekomi_current_org() RESET ALL;

CREATE OR REPLACE FUNCTION public.rekomi_route_key() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN pg_catalog.current_setting('rekomi.route_key', true) OPERATOR(pg_catalog.<>) '' THEN pg_catalog.current_setting('rekomi.route_key', true) END $$;
ALTER FUNCTION public.rekomi_route_key() RESET ALL;

COMMIT;
