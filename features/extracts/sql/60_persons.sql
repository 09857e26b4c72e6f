-- keep
-- The data set's persons table (data contract v1): persons of the data set only.
SELECT
  s.person_id,
  s.list_id,
  s.age,
  s.sex,
  s.grunnkrets,
  CAST(COALESCE(c.copayment_prev_year_nok, 0) AS DOUBLE) AS copayment_prev_year,
  s.refugee_first_year,
  m.months_listed,
  CAST(COALESCE(c.cost_nok, 0) AS DOUBLE) AS cost
FROM person_status s
LEFT JOIN months_listed m ON m.person_id = s.person_id
LEFT JOIN (
  -- A person's used lines of T and of T - 1, summed in one pass.
  SELECT
    person_id,
    SUM(CASE WHEN period = 'T' THEN reimbursed_nok + copayment_nok END) AS cost_nok,
    SUM(CASE WHEN period = 'T-1' THEN copayment_nok END) AS copayment_prev_year_nok
  FROM claims_by_person
  WHERE excluded_reason IS NULL
  GROUP BY person_id
) c ON c.person_id = s.person_id
WHERE s.excluded_reason IS NULL
