-- 012: every maintenance transaction first takes the live keys of the window queue (metric_windows_pending,
-- day >= yesterday). Without an index that was a scan of the whole queue, which a bulk load keeps long (past
-- keys wait there to settle) and full of dead rows: 114 ms a take, several a second, at 100 repositories
-- (bench/ingest_profile.py). With it the take reads only the live days' entries.
CREATE INDEX metric_windows_pending_day ON metric_windows_pending (day);
-- Live slices take the queue's live entries FOR UPDATE SKIP LOCKED (sql/windows.sql, take_live): an entry
-- another live slice is taking is left to it instead of waited for. Row locks need the UPDATE privilege.
GRANT UPDATE ON metric_windows_pending TO pillarstream_writer;
