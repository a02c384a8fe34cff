-- Reverts 0020_promo_codes, dropping every organization's promo codes.
BEGIN;
DROP TABLE promo_codes;
COMMIT;
