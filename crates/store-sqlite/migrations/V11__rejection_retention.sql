-- Rejected rows are kept only for the hub's retention period (rejections_retention_days):
-- they hold what the department typed, ID and bank numbers included, and are there only to
-- be fixed and sent again. The purge job deletes them, and the file's header, which only
-- their report uses, and records when here, so that the upload keeps its counts and its
-- report can say why it is gone.
ALTER TABLE uploads ADD COLUMN rejections_purged_at TEXT;
-- The purge looks for committed uploads whose rows are still kept, oldest first.
CREATE INDEX uploads_rejections_kept ON uploads (finished_at, id)
    WHERE status = 'committed' AND rejections_purged_at IS NULL;

-- Recurring work (the purge) is one job that queues itself again; every hub process makes
-- sure of it at its start, and this index lets only one of a kind be queued or running.
ALTER TABLE jobs ADD COLUMN singleton INTEGER NOT NULL DEFAULT 0 CHECK (singleton IN (0, 1));
CREATE UNIQUE INDEX jobs_singleton ON jobs (kind)
    WHERE singleton = 1 AND status IN ('queued', 'running');
