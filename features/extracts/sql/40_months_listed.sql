-- keep
-- Months listed in T: the calendar months of T in which the person was on a list for at least
-- one day (a move between lists within a month counts that month once). Each period of T sets
-- the bits of its months (bit m - 1 for month m); OR-ing them per person counts each month once.
SELECT person_id, CAST(bit_count(bit_or(months_mask)) AS INT) AS months_listed
FROM (
  SELECT
    person_id,
    CAST(POWER(2, CASE WHEN valid_to IS NULL OR valid_to > DATE '{year_end}' THEN 12
                       ELSE month(valid_to) END) AS BIGINT)
    - CAST(POWER(2, CASE WHEN valid_from < DATE '{year_start}' THEN 0
                         ELSE month(valid_from) - 1 END) AS BIGINT) AS months_mask
  FROM x_listings
  WHERE valid_from <= DATE '{year_end}'
    AND (valid_to IS NULL OR valid_to >= DATE '{year_start}')
) periods
GROUP BY person_id
