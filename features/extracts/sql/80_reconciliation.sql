-- view
-- Where every claim line and every person went. Amounts in NOK to the øre. A T - 1 line of a
-- person of the data set is used for its copayment and counted there; its reimbursement is
-- listed as excluded with lines = 0, so lines and NOK both add up to what came in.
SELECT 'claims' AS source, 'used' AS outcome, 'cost in T' AS reason,
       CAST(COALESCE(SUM(lines), 0) AS BIGINT) AS lines,
       CAST(COALESCE(SUM(reimbursed_nok + copayment_nok), 0) AS DECIMAL(18,2)) AS nok
FROM claims_by_person WHERE period = 'T' AND excluded_reason IS NULL
UNION ALL
SELECT 'claims', 'used', 'copayment_prev_year: copayments in T-1, frikort-covered included',
       CAST(COALESCE(SUM(lines), 0) AS BIGINT),
       CAST(COALESCE(SUM(copayment_nok), 0) AS DECIMAL(18,2))
FROM claims_by_person WHERE period = 'T-1' AND excluded_reason IS NULL
UNION ALL
SELECT 'claims', 'excluded', 'reimbursement in T-1 (only copayments are used)',
       CAST(0 AS BIGINT),
       CAST(COALESCE(SUM(reimbursed_nok), 0) AS DECIMAL(18,2))
FROM claims_by_person WHERE period = 'T-1' AND excluded_reason IS NULL
UNION ALL
SELECT 'claims', 'excluded', excluded_reason,
       CAST(SUM(lines) AS BIGINT),
       CAST(SUM(reimbursed_nok + copayment_nok) AS DECIMAL(18,2))
FROM claims_by_person WHERE excluded_reason IS NOT NULL
GROUP BY excluded_reason
UNION ALL
SELECT 'persons', CASE WHEN excluded_reason IS NULL THEN 'used' ELSE 'excluded' END,
       COALESCE(excluded_reason, 'in the data set'),
       CAST(COUNT(*) AS BIGINT), CAST(0 AS DECIMAL(18,2))
FROM person_status
GROUP BY excluded_reason
