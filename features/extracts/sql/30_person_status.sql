-- keep
-- Every person of the population register, with the data set's person fields on the reference
-- date and, for those left out of the data set, the one reason why (the first that applies).
-- Age: whole years on the reference date; a person born in the reference date's month has had
-- the birthday (only year and month of birth are known, the day counts as the 1st).
SELECT
  p.person_id,
  p.sex,
  l.list_id,
  r.grunnkrets,
  CAST(
    {reference_year} - p.birth_year - CASE WHEN p.birth_month > {reference_month} THEN 1 ELSE 0 END
    AS INT
  ) AS age,
  -- First year as a member of the scheme: settled as a refugee or arrived as an asylum seeker
  -- in the twelve months up to and including the reference date.
  COALESCE(
    p.refugee_date > DATE '{refugee_window_start}' AND p.refugee_date <= DATE '{reference_date}',
    FALSE
  ) AS refugee_first_year,
  CASE
    WHEN p.died_on IS NOT NULL AND p.died_on <= DATE '{reference_date}'
      THEN 'died on or before the reference date'
    WHEN p.birth_year * 100 + p.birth_month > {reference_year} * 100 + {reference_month}
      THEN 'born after the reference date'
    WHEN l.person_id IS NULL THEN 'not listed on the reference date'
    WHEN r.person_id IS NULL THEN 'no residence on the reference date'
  END AS excluded_reason
FROM x_persons p
LEFT JOIN listed_on_reference_date l ON l.person_id = p.person_id
LEFT JOIN resident_on_reference_date r ON r.person_id = p.person_id
