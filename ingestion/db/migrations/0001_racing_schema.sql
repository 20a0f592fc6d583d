-- The racing schema Parc Fermé's app reads (shared/SCHEMA.md), exactly.
-- Ids are made by the application (uuid5 over natural keys in the ingester): no defaults.

CREATE TABLE series (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    slug           text NOT NULL,
    logo_url       text,
    brand_colors   jsonb NOT NULL DEFAULT '[]',
    governing_body text,
    ui_order       integer
);
CREATE UNIQUE INDEX ix_series_slug ON series (slug);

CREATE TABLE seasons (
    id        uuid PRIMARY KEY,
    series_id uuid NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    year      integer NOT NULL
);
CREATE UNIQUE INDEX ix_seasons_series_id_year ON seasons (series_id, year);

CREATE TABLE circuits (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    slug           text NOT NULL,
    location       text NOT NULL,
    country        text NOT NULL,
    country_code   text,
    layout_map_url text,
    latitude       double precision,
    longitude      double precision,
    length_meters  integer,
    altitude       integer,
    wikipedia_url  text,
    opened_year    integer,
    track_status   text,
    track_type     text
);
CREATE UNIQUE INDEX ix_circuits_slug ON circuits (slug);

CREATE TABLE rounds (
    id                  uuid PRIMARY KEY,
    season_id           uuid NOT NULL REFERENCES seasons (id) ON DELETE CASCADE,
    circuit_id          uuid NOT NULL REFERENCES circuits (id) ON DELETE RESTRICT,
    name                text NOT NULL,
    slug                text NOT NULL,
    round_number        integer NOT NULL,
    date_start          date NOT NULL,
    date_end            date NOT NULL,
    open_f1_meeting_key integer,
    ergast_race_id      integer,
    wikipedia_url       text
);
CREATE UNIQUE INDEX ix_rounds_slug ON rounds (slug);
CREATE INDEX ix_rounds_open_f1_meeting_key ON rounds (open_f1_meeting_key);
CREATE INDEX ix_rounds_season_id ON rounds (season_id);
CREATE INDEX ix_rounds_circuit_id ON rounds (circuit_id);

CREATE TABLE sessions (
    id                  uuid PRIMARY KEY,
    round_id            uuid NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    type                integer NOT NULL CONSTRAINT ck_sessions_type CHECK (type BETWEEN 0 AND 10),
    start_time_utc      timestamptz NOT NULL,
    status              integer NOT NULL CONSTRAINT ck_sessions_status CHECK (status BETWEEN 0 AND 4),
    open_f1_session_key integer
);
CREATE UNIQUE INDEX ix_sessions_open_f1_session_key ON sessions (open_f1_session_key);
CREATE INDEX ix_sessions_round_id ON sessions (round_id);

CREATE TABLE drivers (
    id                    uuid PRIMARY KEY,
    first_name            text NOT NULL,
    last_name             text NOT NULL,
    slug                  text NOT NULL,
    abbreviation          text,
    nationality           text,
    headshot_url          text,
    driver_number         integer,
    open_f1_driver_number integer,
    date_of_birth         date,
    wikipedia_url         text,
    nickname              text,
    place_of_birth        text
);
CREATE UNIQUE INDEX ix_drivers_slug ON drivers (slug);
CREATE INDEX ix_drivers_open_f1_driver_number ON drivers (open_f1_driver_number);

CREATE TABLE teams (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    slug          text NOT NULL,
    short_name    text,
    logo_url      text,
    primary_color text,
    nationality   text,
    wikipedia_url text
);
CREATE UNIQUE INDEX ix_teams_slug ON teams (slug);

CREATE TABLE entrants (
    id        uuid PRIMARY KEY,
    round_id  uuid NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    driver_id uuid NOT NULL REFERENCES drivers (id) ON DELETE RESTRICT,
    team_id   uuid NOT NULL REFERENCES teams (id) ON DELETE RESTRICT,
    role      integer NOT NULL DEFAULT 0 CONSTRAINT ck_entrants_role CHECK (role BETWEEN 0 AND 3)
);
CREATE UNIQUE INDEX ix_entrants_round_id_driver_id_team_id ON entrants (round_id, driver_id, team_id);
CREATE INDEX ix_entrants_driver_id ON entrants (driver_id);
CREATE INDEX ix_entrants_team_id ON entrants (team_id);

CREATE TABLE results (
    id                 uuid PRIMARY KEY,
    session_id         uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    entrant_id         uuid NOT NULL REFERENCES entrants (id) ON DELETE CASCADE,
    position           integer,
    grid_position      integer,
    status             integer NOT NULL CONSTRAINT ck_results_status CHECK (status BETWEEN 0 AND 4),
    points             double precision,
    "time"             interval,
    laps               integer,
    fastest_lap        boolean NOT NULL,
    time_milliseconds  integer,
    fastest_lap_number integer,
    fastest_lap_rank   integer,
    fastest_lap_time   text,
    fastest_lap_speed  text,
    status_detail      text,
    q1_time            text,
    q2_time            text,
    q3_time            text,
    laps_led           integer,
    car_number         text
);
CREATE UNIQUE INDEX ix_results_session_id_entrant_id ON results (session_id, entrant_id);
CREATE INDEX ix_results_entrant_id ON results (entrant_id);

CREATE TABLE driver_aliases (
    id            uuid PRIMARY KEY,
    driver_id     uuid NOT NULL REFERENCES drivers (id) ON DELETE CASCADE,
    alias_name    text NOT NULL,
    alias_slug    text NOT NULL,
    valid_from    date,
    valid_until   date,
    source        text,
    driver_number integer
);
CREATE UNIQUE INDEX ix_driver_aliases_driver_id_alias_slug ON driver_aliases (driver_id, alias_slug);
CREATE INDEX ix_driver_aliases_alias_slug ON driver_aliases (alias_slug);

CREATE TABLE team_aliases (
    id          uuid PRIMARY KEY,
    team_id     uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    alias_name  text NOT NULL,
    alias_slug  text NOT NULL,
    valid_from  date,
    valid_until date,
    source      text
);
CREATE UNIQUE INDEX ix_team_aliases_team_id_alias_slug ON team_aliases (team_id, alias_slug);
CREATE INDEX ix_team_aliases_alias_slug ON team_aliases (alias_slug);

CREATE TABLE circuit_aliases (
    id          uuid PRIMARY KEY,
    circuit_id  uuid NOT NULL REFERENCES circuits (id) ON DELETE CASCADE,
    alias_name  text NOT NULL,
    alias_slug  text NOT NULL,
    valid_from  date,
    valid_until date,
    source      text
);
CREATE UNIQUE INDEX ix_circuit_aliases_circuit_id_alias_slug ON circuit_aliases (circuit_id, alias_slug);
CREATE INDEX ix_circuit_aliases_alias_slug ON circuit_aliases (alias_slug);
