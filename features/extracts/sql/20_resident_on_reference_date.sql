-- view
-- The grunnkrets each person lives in at the reference date (periods as for listings).
SELECT person_id, grunnkrets
FROM x_residences
WHERE valid_from <= DATE '{reference_date}'
  AND (valid_to IS NULL OR valid_to >= DATE '{reference_date}')
