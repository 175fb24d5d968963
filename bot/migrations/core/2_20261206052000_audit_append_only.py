# Hand-written: the audit log is append-only in the database itself, not only in ORM code, so a
# raw UPDATE or DELETE (a script, a console, a bug) cannot rewrite history. The one exception is
# the retention purge the bot runs: rows older than core_audit_policy.retention_days (365 by
# default, never under 30) may be deleted. No policy row means nothing may be deleted.
# PostgreSQL also refuses TRUNCATE. Test fixtures clean the table by lifting the guard briefly
# (bot/testing/pytest_plugin.py). MODELS_STATE is unchanged: the models did not change.
from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


def _dialect(db: BaseDBAsyncClient | None) -> str:
    # aerich calls upgrade(None) only while diffing for PostgreSQL (unique-constraint lookup).
    return "postgres" if db is None else db.capabilities.dialect


async def upgrade(db: BaseDBAsyncClient) -> str:
    if _dialect(db) == "postgres":
        return """
        CREATE TABLE IF NOT EXISTS "core_audit_policy" (
    "id" SMALLINT NOT NULL PRIMARY KEY CHECK ("id" = 1),
    "retention_days" INT NOT NULL CHECK ("retention_days" >= 30)
);
INSERT INTO "core_audit_policy" ("id", "retention_days") VALUES (1, 365) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION "core_audit_log_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM "core_audit_policy" p WHERE p."id" = 1
                   AND OLD."created_at" < now() - make_interval(days => p."retention_days")) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'core_audit_log is append-only: only entries past the retention period may be deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'core_audit_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER IF EXISTS "core_audit_log_append_only" ON "core_audit_log";
CREATE TRIGGER "core_audit_log_append_only" BEFORE UPDATE OR DELETE ON "core_audit_log"
    FOR EACH ROW EXECUTE FUNCTION "core_audit_log_guard"();
DROP TRIGGER IF EXISTS "core_audit_log_no_truncate" ON "core_audit_log";
CREATE TRIGGER "core_audit_log_no_truncate" BEFORE TRUNCATE ON "core_audit_log"
    FOR EACH STATEMENT EXECUTE FUNCTION "core_audit_log_guard"();"""
    return """
        CREATE TABLE IF NOT EXISTS "core_audit_policy" (
    "id" INTEGER NOT NULL PRIMARY KEY CHECK ("id" = 1),
    "retention_days" INTEGER NOT NULL CHECK ("retention_days" >= 30)
);
INSERT OR IGNORE INTO "core_audit_policy" ("id", "retention_days") VALUES (1, 365);
CREATE TRIGGER IF NOT EXISTS "core_audit_log_no_update" BEFORE UPDATE ON "core_audit_log"
BEGIN
    SELECT RAISE(ABORT, 'core_audit_log is append-only: UPDATE is refused');
END;
CREATE TRIGGER IF NOT EXISTS "core_audit_log_no_delete" BEFORE DELETE ON "core_audit_log"
WHEN NOT EXISTS (SELECT 1 FROM "core_audit_policy" p WHERE p."id" = 1
                 AND julianday(OLD."created_at") < julianday('now') - p."retention_days")
BEGIN
    SELECT RAISE(ABORT, 'core_audit_log is append-only: only entries past the retention period may be deleted');
END;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    if _dialect(db) == "postgres":
        return """
        DROP TRIGGER IF EXISTS "core_audit_log_no_truncate" ON "core_audit_log";
DROP TRIGGER IF EXISTS "core_audit_log_append_only" ON "core_audit_log";
DROP FUNCTION IF EXISTS "core_audit_log_guard"();
DROP TABLE IF EXISTS "core_audit_policy";"""
    return """
        DROP TRIGGER IF EXISTS "core_audit_log_no_delete";
DROP TRIGGER IF EXISTS "core_audit_log_no_update";
DROP TABLE IF EXISTS "core_audit_policy";"""


MODELS_STATE = (
    "eJztW21z2jgQ/isavlwyk8sl5PXaTmcgJS3XJHQS7tpp03GFLYwmtuTKcgjT47/fSrbBL5"
    "i3QEg4vmSwtLuSnxWrZ3fDr5LJBdmtBBaVF9wuvUK/Sgy7BD5kZnZQCXtePK4eJW45A0ED"
    "K0HDiSRbvhTYlDDbxo5PYMgivimoJylnSqfBCJIdymz4iyXqgG3CiLWD2lwgbLmU+QgzSz"
    "+a3PUciplJdtE178KEIIiRewJTHcxsYu2qRS1uwqpgckn2A0Z/BsSQ3CayQwSs8u07DFNm"
    "kQfix4/endGmxLFSUFJLGdDjhux5eqxK7TqT51pW7b5lmNwJXDaU93qyw9lAgTKpRm14D4"
    "ElUStIEShsWeA4kTNiuMPNDkXCXSZ0LNLGgaM8pLTDDQzHSoZx1WgaN7WmYZRy3os1EoBH"
    "QyZnyvOwVV8DYKst/P5nuXxwcFLeOzg+PTo8OTk63TsFWb3f/NRJP9zMEK3QlMas/r5+1V"
    "Qb4nC8wtOnBvpaB0scamlnDNG3AwqWZvVBUmuyJ2LcE66IgB54IhZZf1cMoYcYwMXM0Ce1"
    "NtDPD73aZw74sw4WhbBHGhnQ4WWmAD0XelaMuosfDIcwW3bg8fhwDKD/VK7PPlSut44Pt9"
    "OoXkUzZT2VxldiARfBLPgONebCd/KhHt61T45veW9vCoBBqhBhPZeG2CISU8fPY/zXTeNq"
    "NMYJlQzIFjUl+hc51J8mgkxxmPNol960A6a/RKgFt4cEkrGrln1bWpIPxkCuIFKWXd//6S"
    "SR3rqsfMk64eyiUdWQcV/aQlvRBqoZh5iCKMgMPOLcv4MZSV0y2i9pzaxrItXd+MMLjDbw"
    "flaDOb1o3TGeadYvazfNyuWnlHveVZo1NVPWo73M6NZxxmUDI+hzvfkBqUf0tXFVy3pxIN"
    "f8WlJ7woHkBuNdA1sJiOLRGMa+YrLtuwSbUgMtbN51sbCM1EwiIpIHOeLLWo3Uzj9eEwcX"
    "XDHDZKMJVpb1BV3iAejHJz4ejQ+CQo6XeRGW+Sm37GZHMMO2fiW1dn8nB9fotC1Gcoq8Tc"
    "aiExO3c0EgswJxhJFL3BYkSV3BJQnzLMyQNogIk6KHBGkT4SPJ0RaGB+xztgN6DOS38znb"
    "4kzfslvW7JBIlEqfOG1kgoVkVoe2VMbQwj4sIKhtK3NgNYBnKrd3kM8zm3FxD2H/7pYFel"
    "2LOAQ259B74iNICEENfA9h4BX6wxP0Hpu9WEYQlyspyBvhJeDgi99gLZ1qQg4q453eMvjI"
    "1NtYProtfRPEAl8Q6/ttKcpMbY66VHaUChXR63WVjrIhYCmmbx8vAKYxWJXKTf76/Jl7cf"
    "4anpjZs6ik2lxp1HO7Y1eSR8WhMQ28iq0FLD+SX1YOtYpbbSSNqX1pjieYAxZz0bh6H4tn"
    "WWcabB3RZj7pSa3NQZ/loOd4XsYVeT+cA2mgNvtIetoXddi4qpyOpXRR/fhlOaGI0MGwwN"
    "3BJZk6fPD24Y2vJs4qN2eVd7VSv5g7L48bnnHX4wz2diOx3k6GIGbmJ7FEMxY3/IH8RKqo"
    "TaMW6YADgUW1AikVSQMyRiAV50CouIUdTbQAZSm446M7QjzU5eJOle5xWwLtUvQOVhUyzx"
    "gXvkJMHCmwMoHvCcjTkFyZgS+5C35GWz/eeE5gU/b21ZuwZAYfqPX2x/ZrpOhlL+w7gC5B"
    "YLUXksNlULDiUtPIWDjnFbRaBpaqMu0fT1Fk2s/mysMak5oaz7VCz84C9VBjLW78ZZdN4W"
    "s300mO5TfgTgHus+10PS3KK8kTeBcwmhn7pNYG+7l7XTYx1BUuqCqXjPAA5w7BrCBPziln"
    "HNEC7WUFm8HI0yZv1UbjIpW8VevZ7Ozvy2oNLlMdfUCIygLs2wTLIOSM08b0hMr6dcIWH9"
    "UVWZmpBxbJbxpgC2+AAb33R3bVCwN8QmNZpYm8H/aWG93L+4cnh6cHx4eDoD4YGRfL87ED"
    "7BIR5lAjGkfF5eWM2gbYLLAvq1H7tNF6vTq1qerpg0fB2hxeT2uuX3v+hTg5Bukx/fjl1R"
    "Tfqzzxky53FFQVcxI7E+qKYeoZllBmKS1+7ugCGsIo1EXUR0A64ANG2uZrBEYIk2GXFaw4"
    "SEGg+raqmhdq/eaj6KTlS4tLWWFE/e9bOv0Oi0nfH1MV/L90ZR95WT67/xd+dhflSlL5TQ"
    "F2ydkkYerFZy2SJLSesDqyGkawwOJI4FmaTbdGdFLHBZO03qYwOG80iXGcnRGnNTd50DOm"
    "yIN/s1w5Q64QQc1OnhdH42PYMB5KTCK/xR5ecHt5QyQfSSQLq4XFZKa4XLgObKZ8dDTNr0"
    "SOjop/JaLmMs0f+ErNgHAkvobo7k/1G5z9Mb/B2c//Bkf93wxhI67P4v5DQuXpWxCroYwL"
    "azas9Brr/wd+a8ae"
)
