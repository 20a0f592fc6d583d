-- The app's own database as its Entity Framework Core migrations leave it today, written by hand from
-- ../shared/SCHEMA.md (last section): racing tables in quoted PascalCase with their indexes and foreign keys,
-- "__EFMigrationsHistory" with one row, and the user tables with their ON DELETE rules. Not derived from the
-- ingester's code: the tests run the ingester against this.

CREATE TABLE "__EFMigrationsHistory" (
    "MigrationId"    character varying(150) NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" character varying(32) NOT NULL
);
INSERT INTO "__EFMigrationsHistory" VALUES ('20250101000000_InitialCreate', '9.0.0');

CREATE TABLE "Series" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Series" PRIMARY KEY,
    "Name" text NOT NULL,
    "Slug" text NOT NULL,
    "LogoUrl" text,
    "BrandColors" jsonb NOT NULL DEFAULT '[]',
    "GoverningBody" text,
    "UIOrder" integer
);
CREATE UNIQUE INDEX "IX_Series_Slug" ON "Series" ("Slug");

CREATE TABLE "SeriesAliases" (
    "Id" uuid NOT NULL CONSTRAINT "PK_SeriesAliases" PRIMARY KEY,
    "SeriesId" uuid NOT NULL CONSTRAINT "FK_SeriesAliases_Series_SeriesId" REFERENCES "Series" ("Id") ON DELETE CASCADE,
    "AliasName" text NOT NULL,
    "AliasSlug" text NOT NULL,
    "LogoUrl" text,
    "Source" text,
    "ValidFrom" date,
    "ValidUntil" date
);
CREATE UNIQUE INDEX "IX_SeriesAliases_SeriesId_AliasSlug" ON "SeriesAliases" ("SeriesId", "AliasSlug");

CREATE TABLE "Seasons" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Seasons" PRIMARY KEY,
    "SeriesId" uuid NOT NULL CONSTRAINT "FK_Seasons_Series_SeriesId" REFERENCES "Series" ("Id") ON DELETE CASCADE,
    "Year" integer NOT NULL
);
CREATE UNIQUE INDEX "IX_Seasons_SeriesId_Year" ON "Seasons" ("SeriesId", "Year");

CREATE TABLE "Circuits" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Circuits" PRIMARY KEY,
    "Name" text NOT NULL,
    "Slug" text NOT NULL,
    "Location" text NOT NULL,
    "Country" text NOT NULL,
    "CountryCode" text,
    "LayoutMapUrl" text,
    "Latitude" double precision,
    "Longitude" double precision,
    "LengthMeters" integer,
    "Altitude" integer,
    "WikipediaUrl" text,
    "OpenedYear" integer,
    "TrackStatus" text,
    "TrackType" text
);
CREATE UNIQUE INDEX "IX_Circuits_Slug" ON "Circuits" ("Slug");

CREATE TABLE "Rounds" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Rounds" PRIMARY KEY,
    "SeasonId" uuid NOT NULL CONSTRAINT "FK_Rounds_Seasons_SeasonId" REFERENCES "Seasons" ("Id") ON DELETE CASCADE,
    "CircuitId" uuid NOT NULL CONSTRAINT "FK_Rounds_Circuits_CircuitId" REFERENCES "Circuits" ("Id") ON DELETE RESTRICT,
    "Name" text NOT NULL,
    "Slug" text NOT NULL,
    "RoundNumber" integer NOT NULL,
    "DateStart" date NOT NULL,
    "DateEnd" date NOT NULL,
    "OpenF1MeetingKey" integer,
    "ErgastRaceId" integer,
    "WikipediaUrl" text
);
CREATE UNIQUE INDEX "IX_Rounds_Slug" ON "Rounds" ("Slug");
CREATE INDEX "IX_Rounds_OpenF1MeetingKey" ON "Rounds" ("OpenF1MeetingKey");
CREATE INDEX "IX_Rounds_SeasonId" ON "Rounds" ("SeasonId");
CREATE INDEX "IX_Rounds_CircuitId" ON "Rounds" ("CircuitId");

CREATE TABLE "Sessions" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Sessions" PRIMARY KEY,
    "RoundId" uuid NOT NULL CONSTRAINT "FK_Sessions_Rounds_RoundId" REFERENCES "Rounds" ("Id") ON DELETE CASCADE,
    "Type" integer NOT NULL,
    "StartTimeUtc" timestamp with time zone NOT NULL,
    "Status" integer NOT NULL,
    "OpenF1SessionKey" integer
);
CREATE UNIQUE INDEX "IX_Sessions_OpenF1SessionKey" ON "Sessions" ("OpenF1SessionKey");
CREATE INDEX "IX_Sessions_RoundId" ON "Sessions" ("RoundId");

CREATE TABLE "Drivers" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Drivers" PRIMARY KEY,
    "FirstName" text NOT NULL,
    "LastName" text NOT NULL,
    "Slug" text NOT NULL,
    "Abbreviation" text,
    "Nationality" text,
    "HeadshotUrl" text,
    "DriverNumber" integer,
    "OpenF1DriverNumber" integer,
    "DateOfBirth" date,
    "WikipediaUrl" text,
    "Nickname" text,
    "PlaceOfBirth" text
);
CREATE UNIQUE INDEX "IX_Drivers_Slug" ON "Drivers" ("Slug");
CREATE INDEX "IX_Drivers_OpenF1DriverNumber" ON "Drivers" ("OpenF1DriverNumber");

CREATE TABLE "Teams" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Teams" PRIMARY KEY,
    "Name" text NOT NULL,
    "Slug" text NOT NULL,
    "ShortName" text,
    "LogoUrl" text,
    "PrimaryColor" text,
    "Nationality" text,
    "WikipediaUrl" text
);
CREATE UNIQUE INDEX "IX_Teams_Slug" ON "Teams" ("Slug");

CREATE TABLE "Entrants" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Entrants" PRIMARY KEY,
    "RoundId" uuid NOT NULL CONSTRAINT "FK_Entrants_Rounds_RoundId" REFERENCES "Rounds" ("Id") ON DELETE CASCADE,
    "DriverId" uuid NOT NULL CONSTRAINT "FK_Entrants_Drivers_DriverId" REFERENCES "Drivers" ("Id") ON DELETE RESTRICT,
    "TeamId" uuid NOT NULL CONSTRAINT "FK_Entrants_Teams_TeamId" REFERENCES "Teams" ("Id") ON DELETE RESTRICT,
    "Role" integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX "IX_Entrants_RoundId_DriverId" ON "Entrants" ("RoundId", "DriverId");
CREATE INDEX "IX_Entrants_DriverId" ON "Entrants" ("DriverId");
CREATE INDEX "IX_Entrants_TeamId" ON "Entrants" ("TeamId");

CREATE TABLE "Results" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Results" PRIMARY KEY,
    "SessionId" uuid NOT NULL CONSTRAINT "FK_Results_Sessions_SessionId" REFERENCES "Sessions" ("Id") ON DELETE CASCADE,
    "EntrantId" uuid NOT NULL CONSTRAINT "FK_Results_Entrants_EntrantId" REFERENCES "Entrants" ("Id") ON DELETE CASCADE,
    "Position" integer,
    "GridPosition" integer,
    "Status" integer NOT NULL,
    "Points" double precision,
    "Time" interval,
    "Laps" integer,
    "FastestLap" boolean NOT NULL,
    "TimeMilliseconds" integer,
    "FastestLapNumber" integer,
    "FastestLapRank" integer,
    "FastestLapTime" text,
    "FastestLapSpeed" text,
    "StatusDetail" text,
    "Q1Time" text,
    "Q2Time" text,
    "Q3Time" text,
    "LapsLed" integer,
    "CarNumber" text
);
CREATE UNIQUE INDEX "IX_Results_SessionId_EntrantId" ON "Results" ("SessionId", "EntrantId");
CREATE INDEX "IX_Results_EntrantId" ON "Results" ("EntrantId");

-- DriverAliases, TeamAliases, CircuitAliases: one shape (the parent's id, the alias, its validity and source),
-- then what each adds; the parent's delete cascades, unique (parent id, "AliasSlug"), an index on "AliasSlug".
DO $$
DECLARE
    a record;
BEGIN
    FOR a IN SELECT * FROM (VALUES
        ('Driver', ', "DriverNumber" integer, "SeriesId" uuid CONSTRAINT "FK_DriverAliases_Series_SeriesId" '
                   'REFERENCES "Series" ("Id") ON DELETE SET NULL'),
        ('Team', ', "SeriesId" uuid CONSTRAINT "FK_TeamAliases_Series_SeriesId" '
                 'REFERENCES "Series" ("Id") ON DELETE SET NULL'),
        ('Circuit', '')
    ) AS v (parent, extra) LOOP
        EXECUTE format(
            'CREATE TABLE %1$I ("Id" uuid NOT NULL CONSTRAINT %2$I PRIMARY KEY, '
            '%3$I uuid NOT NULL CONSTRAINT %4$I REFERENCES %5$I ("Id") ON DELETE CASCADE, '
            '"AliasName" text NOT NULL, "AliasSlug" text NOT NULL, "ValidFrom" date, "ValidUntil" date, '
            '"Source" text%6$s)',
            a.parent || 'Aliases', 'PK_' || a.parent || 'Aliases', a.parent || 'Id',
            format('FK_%sAliases_%ss_%sId', a.parent, a.parent, a.parent), a.parent || 's', a.extra);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (%I, "AliasSlug")',
                       format('IX_%sAliases_%sId_AliasSlug', a.parent, a.parent), a.parent || 'Aliases',
                       a.parent || 'Id');
        EXECUTE format('CREATE INDEX %I ON %I ("AliasSlug")',
                       format('IX_%sAliases_AliasSlug', a.parent), a.parent || 'Aliases');
    END LOOP;
END $$;

-- ASP.NET Identity (nothing racing)
CREATE TABLE "AspNetUsers" (
    "Id" text NOT NULL CONSTRAINT "PK_AspNetUsers" PRIMARY KEY,
    "UserName" character varying(256),
    "Email" character varying(256)
);
CREATE TABLE "AspNetRoles" ("Id" text NOT NULL CONSTRAINT "PK_AspNetRoles" PRIMARY KEY, "Name" character varying(256));
CREATE TABLE "AspNetUserClaims" (
    "Id" integer GENERATED BY DEFAULT AS IDENTITY CONSTRAINT "PK_AspNetUserClaims" PRIMARY KEY,
    "UserId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    "ClaimType" text, "ClaimValue" text
);
CREATE TABLE "AspNetUserLogins" (
    "LoginProvider" text NOT NULL, "ProviderKey" text NOT NULL,
    "UserId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    PRIMARY KEY ("LoginProvider", "ProviderKey")
);
CREATE TABLE "AspNetUserRoles" (
    "UserId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    "RoleId" text NOT NULL REFERENCES "AspNetRoles" ("Id") ON DELETE CASCADE,
    PRIMARY KEY ("UserId", "RoleId")
);
CREATE TABLE "AspNetUserTokens" (
    "UserId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    "LoginProvider" text NOT NULL, "Name" text NOT NULL, "Value" text,
    PRIMARY KEY ("UserId", "LoginProvider", "Name")
);
CREATE TABLE "AspNetRoleClaims" (
    "Id" integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "RoleId" text NOT NULL REFERENCES "AspNetRoles" ("Id") ON DELETE CASCADE,
    "ClaimType" text, "ClaimValue" text
);

-- A user's diary entry on a session
CREATE TABLE "Logs" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Logs" PRIMARY KEY,
    "UserId" text NOT NULL CONSTRAINT "FK_Logs_AspNetUsers_UserId" REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    "SessionId" uuid NOT NULL CONSTRAINT "FK_Logs_Sessions_SessionId" REFERENCES "Sessions" ("Id") ON DELETE CASCADE,
    "StarRating" numeric,
    "Liked" boolean NOT NULL DEFAULT false,
    "DateWatched" timestamp with time zone
);
CREATE UNIQUE INDEX "IX_Logs_UserId_SessionId" ON "Logs" ("UserId", "SessionId");

CREATE TABLE "Reviews" (
    "Id" uuid NOT NULL CONSTRAINT "PK_Reviews" PRIMARY KEY,
    "LogId" uuid NOT NULL CONSTRAINT "FK_Reviews_Logs_LogId" REFERENCES "Logs" ("Id") ON DELETE CASCADE,
    "Body" text NOT NULL,
    "ContainsSpoilers" boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX "IX_Reviews_LogId" ON "Reviews" ("LogId");

CREATE TABLE "ReviewComments" (
    "Id" uuid NOT NULL PRIMARY KEY,
    "ReviewId" uuid NOT NULL REFERENCES "Reviews" ("Id") ON DELETE CASCADE,
    "UserId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    "Body" text NOT NULL
);
CREATE TABLE "ReviewLikes" (
    "Id" uuid NOT NULL PRIMARY KEY,
    "ReviewId" uuid NOT NULL REFERENCES "Reviews" ("Id") ON DELETE CASCADE,
    "UserId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE
);

CREATE TABLE "UserLists" (
    "Id" uuid NOT NULL PRIMARY KEY,
    "UserId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    "Name" text NOT NULL
);
CREATE TABLE "ListItems" (
    "Id" uuid NOT NULL PRIMARY KEY,
    "UserListId" uuid NOT NULL REFERENCES "UserLists" ("Id") ON DELETE CASCADE,
    "SessionId" uuid NOT NULL REFERENCES "Sessions" ("Id") ON DELETE CASCADE,
    "OrderIndex" integer NOT NULL,
    "Comment" text
);

CREATE TABLE "Grandstands" (
    "Id" uuid NOT NULL PRIMARY KEY,
    "CircuitId" uuid NOT NULL REFERENCES "Circuits" ("Id") ON DELETE CASCADE,
    "Name" text NOT NULL
);
CREATE TABLE "Experiences" (
    "Id" uuid NOT NULL PRIMARY KEY,
    "LogId" uuid NOT NULL REFERENCES "Logs" ("Id") ON DELETE CASCADE,
    "GrandstandId" uuid REFERENCES "Grandstands" ("Id") ON DELETE SET NULL,
    "Rating" integer
);
CREATE UNIQUE INDEX "IX_Experiences_LogId" ON "Experiences" ("LogId");

CREATE TABLE "UserFollows" (
    "FollowerId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    "FolloweeId" text NOT NULL REFERENCES "AspNetUsers" ("Id") ON DELETE CASCADE,
    PRIMARY KEY ("FollowerId", "FolloweeId")
);

CREATE TABLE "PendingMatches" (
    "Id" uuid NOT NULL PRIMARY KEY,
    "EntityType" text NOT NULL,
    "IncomingName" text NOT NULL,
    "CandidateEntityId" uuid,
    "MatchScore" double precision,
    "Resolution" text
);
