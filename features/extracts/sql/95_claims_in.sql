-- view
-- What came in: every claim line of the extract, the total the reconciliation must reach.
SELECT CAST(COUNT(*) AS BIGINT) AS lines,
       CAST(COALESCE(SUM(reimbursed_nok + copayment_nok), 0) AS DECIMAL(18,2)) AS nok
FROM x_claims
