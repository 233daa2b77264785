-- 005: the team dimension for Superset: which repositories each team has access to (GitHub team
-- access, from `team` and `team_add` events). Catalogue v1 has no team-level metric, so dashboards
-- drill down by team through its repositories: the repositories' figures, and the facts behind them.
CREATE VIEW reporting.team_repositories AS
SELECT t.org, t.team_id, t.slug AS team, t.name AS team_name, tr.repo_id, r.full_name AS repo, r.language,
       tr.permission
FROM team_repositories tr
JOIN teams t USING (team_id)
LEFT JOIN repositories r USING (repo_id)
WHERE tr.state = 'added' AND NOT t.deleted AND t.slug IS NOT NULL;

-- Granted by 004's default privileges; repeated so the file also works on its own.
GRANT SELECT ON reporting.team_repositories TO pillarstream_reader;
