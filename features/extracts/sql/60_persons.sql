-- keep
-- The data set's persons table (data contract v1): persons of the data set only.
SELECT
  s.person_id,
  s.list_id,
  s.age,
  s.sex,
  s.grunnkrets,
  CAST(COALESCE(prev.copayment_nok, 0) AS DOUBLE) AS copayment_prev_year,
  s.refugee_first_year,
  m.months_listed,
  CAST(COALESCE(cur.cost_nok, 0) AS DOUBLE) AS cost
FROM person_status s
LEFT JOIN months_listed m ON m.person_id = s.person_id
LEFT JOIN (
  SELECT person_id, SUM(reimbursed_nok + copayment_nok) AS cost_nok
  FROM claims_by_person
  WHERE period = 'T' AND excluded_reason IS NULL
  GROUP BY person_id
) cur ON cur.person_id = s.person_id
LEFT JOIN (
  SELECT person_id, SUM(copayment_nok) AS copayment_nok
  FROM claims_by_person
  WHERE period = 'T-1' AND excluded_reason IS NULL
  GROUP BY person_id
) prev ON prev.person_id = s.person_id
WHERE s.excluded_reason IS NULL
