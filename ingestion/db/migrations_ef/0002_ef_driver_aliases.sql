-- The driver aliases of the ingester's own making (source 'openf1': the name variants OpenF1 writes). On the
-- app's database they live here, not in its "DriverAliases" (the app's own aliases, which the ingester never
-- writes). Same columns as the snake_case schema's driver_aliases; no foreign key to "Drivers", as for
-- circuit_keys: the app's migrations must stay free to rebuild its tables.
CREATE TABLE ingestion.driver_aliases (
    id            uuid PRIMARY KEY,
    driver_id     uuid NOT NULL,
    alias_name    text NOT NULL,
    alias_slug    text NOT NULL,
    valid_from    date,
    valid_until   date,
    source        text,
    driver_number integer
);
CREATE UNIQUE INDEX ux_driver_aliases_driver_id_alias_slug ON ingestion.driver_aliases (driver_id, alias_slug);
CREATE INDEX ix_driver_aliases_alias_slug ON ingestion.driver_aliases (alias_slug);
