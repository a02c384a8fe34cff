BEGIN;

CREATE OR REPLACE FUNCTION public.rekomi_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('rekomi.org_id', true), '')::uuid $$;
ALTER FUNCTION public.rekomi_current_org() SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION public.rekomi_route_key() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('rekomi.route_key', true), '') $$;
ALTER FUNCTION public.rekomi_route_key() SET search_path = pg_catalog, pg_temp;

COMMIT;
