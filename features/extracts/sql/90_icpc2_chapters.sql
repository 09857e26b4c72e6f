-- view
-- ICPC-2 chapters seen per person of the data set in T - 1 (claim lines with a diagnosis, per
-- chapter), for a later model that tests diagnoses as the health indicator. One row per person
-- with a count per chapter; the build writes it long: person, chapter, claims.
SELECT person_id, {icpc2_chapter_columns}
FROM claims_by_person
WHERE period = 'T-1' AND excluded_reason IS NULL
