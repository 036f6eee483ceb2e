-- Tasks churn (every task is updated two or three times within seconds): vacuum and analyze
-- the table far more often than the default 20 % of dead rows, so the waiting-task index stays
-- small and the planner's picture stays current.
ALTER TABLE tasks SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000
);
