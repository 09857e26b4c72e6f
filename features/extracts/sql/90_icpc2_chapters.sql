-- view
-- ICPC-2 chapters seen per person of the data set in T - 1, for a later model that tests
-- diagnoses as the health indicator: one row per person and chapter with the number of claim
-- lines with a diagnosis in that chapter (the contract holds every ICPC-2 code to a chapter
-- letter and two digits, so the chapter is the code's first letter).
SELECT c.person_id, substr(c.icpc2, 1, 1) AS chapter, COUNT(*) AS claims
FROM x_claims c
JOIN person_status s ON s.person_id = c.person_id AND s.excluded_reason IS NULL
WHERE c.claim_date >= DATE '{previous_year_start}' AND c.claim_date < DATE '{year_start}'
  AND c.icpc2 IS NOT NULL
GROUP BY c.person_id, substr(c.icpc2, 1, 1)
