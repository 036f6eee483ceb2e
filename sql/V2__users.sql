-- Owned by IdentityVerticle. A deleted user is kept (status 'deleted') so that history
-- pointing at them stays readable; their username and email stay taken.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT        NOT NULL,
    email         TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    role          TEXT        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    status        TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
    -- Bumped when a password changes or the user is deleted: tokens carry it, older ones stop working.
    token_version INTEGER     NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Case-insensitive uniqueness: "Alice" and "alice" are the same person.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
