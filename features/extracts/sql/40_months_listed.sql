-- keep
-- Months listed in T: the calendar months of T in which the person was on a list for at least
-- one day (a move between lists within a month counts that month once).
SELECT l.person_id, CAST(COUNT(DISTINCT m.month) AS INT) AS months_listed
FROM x_listings l
JOIN months_of_outcome_year m
  ON l.valid_from <= m.month_end AND (l.valid_to IS NULL OR l.valid_to >= m.month_start)
GROUP BY l.person_id
