-- view
-- The list each person is on at the reference date. Periods are inclusive at both ends and an
-- empty end is open; the contract refuses overlapping periods, so there is at most one row.
SELECT person_id, list_id
FROM x_listings
WHERE valid_from <= DATE '{reference_date}'
  AND (valid_to IS NULL OR valid_to >= DATE '{reference_date}')
