-- view
-- The lists of the data set: every list open on the reference date, and any list a person of
-- the data set is on.
SELECT l.list_id, l.practice_kommune, l.practice_form, l.list_cap, l.agreement_start
FROM x_lists l
WHERE (l.agreement_start <= DATE '{reference_date}'
       AND (l.agreement_end IS NULL OR l.agreement_end >= DATE '{reference_date}'))
   OR l.list_id IN (SELECT list_id FROM person_status WHERE excluded_reason IS NULL)
