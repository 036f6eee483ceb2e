-- The one table every owner writes to: an append-only trail of changes. Each owning verticle
-- appends its rows inside the same SQL transaction as the change they describe.
CREATE TABLE audit_logs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type TEXT        NOT NULL,
    entity_id   TEXT        NOT NULL,
    action      TEXT        NOT NULL,
    actor_id    BIGINT,
    details     JSONB       NOT NULL DEFAULT '{}'::jsonb,
    request_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX audit_logs_entity ON audit_logs (entity_type, entity_id, id);
CREATE INDEX audit_logs_created ON audit_logs (created_at, id);

-- Append-only, enforced by the database rather than by convention.
CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only';
END;
$$;

CREATE TRIGGER audit_logs_append_only
    BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change();
