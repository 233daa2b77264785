-- 013: the window queue and the daily roll-ups find a repository's teams (team_scopes) by repository. The
-- only index on team_repositories led with the team, so each lookup read the whole table: at 1,000
-- repositories (1,500 team links) a live rebuild of today's organisation key spent 2 s on it, and the cost
-- grows with the organisation (bench/live_rebuild_explain.py).
CREATE INDEX team_repositories_repo ON team_repositories (repo_id) WHERE state = 'added';
