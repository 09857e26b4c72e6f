-- keep
-- Every claim line, summed per person, period and outcome; NULL excluded_reason means used:
--   in T, by a person of the data set, on a day the person was on a list -> cost;
--   in T - 1, by a person of the data set -> copayment_prev_year (copayments triggered,
--   whether paid or covered by the exemption card, frikort; the reimbursement is not used).
-- Each line gets exactly one outcome, so NOK in = NOK used + NOK excluded, per reason.
-- The lines are summed once per person, period and whether a line of T was on a day off any
-- list; the person's status is joined to those sums, not to every line: the outcome of a line
-- depends on nothing else.
SELECT
  person_id,
  period,
  excluded_reason,
  CAST(SUM(lines) AS BIGINT) AS lines,
  CAST(SUM(reimbursed_nok) AS DECIMAL(18,2)) AS reimbursed_nok,
  CAST(SUM(copayment_nok) AS DECIMAL(18,2)) AS copayment_nok
FROM (
  SELECT
    c.person_id,
    c.period,
    CASE
      WHEN c.period = 'other' THEN 'claim date outside T and T-1'
      WHEN s.person_id IS NULL THEN 'unknown person'
      WHEN s.excluded_reason IS NOT NULL
        THEN concat('person not in the data set: ', s.excluded_reason)
      WHEN c.unlisted THEN 'not on a list on the claim date'
    END AS excluded_reason,
    c.lines,
    c.reimbursed_nok,
    c.copayment_nok
  FROM (
    SELECT
      person_id,
      period,
      unlisted,
      COUNT(*) AS lines,
      SUM(reimbursed_nok) AS reimbursed_nok,
      SUM(copayment_nok) AS copayment_nok
    FROM (
      SELECT
        c.person_id,
        c.reimbursed_nok,
        c.copayment_nok,
        CASE
          WHEN c.claim_date >= DATE '{year_start}' AND c.claim_date <= DATE '{year_end}' THEN 'T'
          WHEN c.claim_date >= DATE '{previous_year_start}' AND c.claim_date < DATE '{year_start}'
            THEN 'T-1'
          ELSE 'other'
        END AS period,
        c.claim_date >= DATE '{year_start}' AND l.person_id IS NULL AS unlisted
      FROM x_claims c
      LEFT JOIN x_listings l
        ON l.person_id = c.person_id
        AND c.claim_date >= DATE '{year_start}'
        AND l.valid_from <= c.claim_date
        AND (l.valid_to IS NULL OR l.valid_to >= c.claim_date)
    ) claim_lines
    GROUP BY person_id, period, unlisted
  ) c
  LEFT JOIN person_status s ON s.person_id = c.person_id
) per_outcome
GROUP BY person_id, period, excluded_reason
